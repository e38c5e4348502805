// Avro's zigzag varint, for tests that write lengths, counts and indexes by hand (avsc keeps its
// own encoder private). Any 64-bit value, so tests can write counts no real writer would.

/** The zigzag varint of a signed 64-bit value. */
export function encodeVarint(value: bigint | number): Buffer {
  const n = BigInt(value);
  let zigzag = BigInt.asUintN(64, (n << 1n) ^ (n >> 63n));
  const bytes: number[] = [];
  do {
    let byte = Number(zigzag & 0x7fn);
    zigzag >>= 7n;
    if (zigzag !== 0n) byte |= 0x80;
    bytes.push(byte);
  } while (zigzag !== 0n);
  return Buffer.from(bytes);
}
