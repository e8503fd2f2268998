/**
 * A TransformStream that splits text into lines (the standard library's
 * TextLineStream is on JSR, which these machines cannot reach).
 *
 * @module
 */

/** Splits a stream of text chunks into lines without their "\n" or "\r\n". */
export class TextLineStream extends TransformStream<string, string> {
  constructor() {
    let rest = "";
    super({
      transform(chunk, controller) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        for (const p of parts) {
          controller.enqueue(p.endsWith("\r") ? p.slice(0, -1) : p);
        }
      },
      flush(controller) {
        if (rest) controller.enqueue(rest);
      },
    });
  }
}
