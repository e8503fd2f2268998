/**
 * An assertion on the target errors of src/process (kind and message).
 *
 * @module
 */

import assert from "node:assert/strict";
import { TargetError, type TargetErrorKind } from "../src/process/mod.ts";

/**
 * Asserts that `p` rejects with a TargetError of `kind` whose message
 * matches every pattern, and returns that error.
 */
export async function assertTargetError(
  p: Promise<unknown>,
  kind: TargetErrorKind,
  ...patterns: RegExp[]
): Promise<TargetError> {
  const err = await p.then(
    () => {
      throw new Error(`expected a TargetError of kind ${kind}, got success`);
    },
    (e: unknown) => e,
  );
  if (!(err instanceof TargetError)) throw err;
  assert.equal(err.kind, kind, err.message);
  for (const re of patterns) assert.match(err.message, re);
  return err;
}
