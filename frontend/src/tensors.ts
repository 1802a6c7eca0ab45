/** Quantised tensors of `inspect:result`: raw bytes plus the range they map onto. */

import type { PackedTensor } from "./types";

/**
 * A (rows × cols) matrix of bytes, `v = lo + byte × (hi − lo) / 255`, row-major. A 16-bit
 * tensor (the LSTM cell state) also keeps its words, `v = lo + word × (hi − lo) / 65535`,
 * and `bytes` then holds their high bytes (enough for colours).
 */
export interface Matrix {
  rows: number;
  cols: number;
  lo: number;
  hi: number;
  bytes: Uint8Array;
  words?: Uint16Array;
}

/** Socket.IO hands a binary attachment over as an ArrayBuffer (a view in some transports). */
export function toBytes(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** One tensor of a result, as a view into the result's shared buffer (no copy). */
export function toMatrix(packed: PackedTensor, buffer: Uint8Array): Matrix {
  const [rows = 0, cols = 1] = packed.shape;
  const width = packed.bits === 16 ? 2 : 1;
  if (packed.offset + packed.size > buffer.length || packed.size < rows * cols * width) {
    throw new Error(`tensor of shape ${rows}×${cols} does not fit the result's buffer`);
  }
  const raw = buffer.subarray(packed.offset, packed.offset + packed.size);
  if (width === 1) return { rows, cols, lo: packed.lo, hi: packed.hi, bytes: raw };
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength); // maybe unaligned
  const words = new Uint16Array(rows * cols);
  for (let i = 0; i < words.length; i++) words[i] = view.getUint16(2 * i, true);
  const bytes = Uint8Array.from(words, (w) => w >> 8);
  return { rows, cols, lo: packed.lo, hi: packed.hi, bytes, words };
}

/** The value one byte stands for. */
export function byteValue(m: Matrix, byte: number): number {
  return m.lo + (byte * (m.hi - m.lo)) / 255;
}

export function valueAt(m: Matrix, row: number, col: number): number {
  const i = row * m.cols + col;
  if (m.words) return m.lo + ((m.words[i] ?? 0) * (m.hi - m.lo)) / 65535;
  return byteValue(m, m.bytes[i] ?? 0);
}

/** One unit's values over time. */
export function column(m: Matrix, col: number): Float32Array {
  const out = new Float32Array(m.rows);
  for (let r = 0; r < m.rows; r++) out[r] = valueAt(m, r, col);
  return out;
}

/** One position's values over every unit. */
export function row(m: Matrix, r: number): Float32Array {
  const out = new Float32Array(m.cols);
  for (let c = 0; c < m.cols; c++) out[c] = valueAt(m, r, c);
  return out;
}

export function norm(values: ArrayLike<number>): number {
  let sum = 0;
  for (const v of Array.from(values)) sum += v * v;
  return Math.sqrt(sum);
}

/** Units sorted by how much they vary over the text: the ones worth looking at first. */
export function unitsByVariance(m: Matrix): { unit: number; variance: number }[] {
  const out: { unit: number; variance: number }[] = [];
  for (let c = 0; c < m.cols; c++) {
    let mean = 0;
    let sq = 0;
    for (let r = 0; r < m.rows; r++) {
      const v = valueAt(m, r, c);
      mean += v;
      sq += v * v;
    }
    mean /= m.rows || 1;
    out.push({ unit: c, variance: sq / (m.rows || 1) - mean * mean });
  }
  return out.sort((a, b) => b.variance - a.variance);
}
