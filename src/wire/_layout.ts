/** A C struct of a bpf/ header: its size and each field's byte offset, in declaration order. */
export interface StructLayout<F extends string> {
  /** sizeof(struct). */
  readonly size: number;
  /** Byte offset of each field. */
  readonly offsets: Readonly<Record<F, number>>;
}
