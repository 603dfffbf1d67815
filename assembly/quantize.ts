// fp32 weights into a numeric format, for the explicit quantisation step.
// Rounding is monotone, so every fp32 value sharing its top 16 bits (a
// "bucket", a bf16 interval) rounds to the same pattern unless a tie point
// of the format falls inside the bucket. TypeScript rounds both ends of
// each bucket with numformat's reference and passes the buckets whose ends
// agree as a table; here each weight is looked up, and the few in buckets
// with a tie inside are listed for the reference to round one by one.

/**
 * For n fp32 weights at src: q = table[bits >> 16] (patterns of dstWidth
 * bytes) stored at dst, unless ambiguous[bits >> 16] is set, in which case
 * the weight's index is appended at `pending` (u32) and dst is left for the
 * caller. Accumulates over the looked-up weights, at `stats` (4 f64): max
 * |values[q] × scale − w|, the sum of its squares, the sum of w², and max
 * |error| / |w| over w ≠ 0; values holds each pattern's value (f64). Returns
 * the number of pending weights.
 */
export function quantizeFp32(src: usize, n: usize, scale: f64, table: usize, ambiguous: usize, values: usize, dstWidth: u32, dst: usize, pending: usize, stats: usize): usize {
  let maxAbs: f64 = 0;
  let squares: f64 = 0;
  let valueSquares: f64 = 0;
  let maxRel: f64 = 0;
  let k: usize = 0;
  for (let e: usize = 0; e < n; e++) {
    const bits = load<u32>(src + (e << 2));
    const h = usize(bits >> 16);
    if (load<u8>(ambiguous + h) != 0) {
      store<u32>(pending + (k << 2), u32(e));
      k++;
      continue;
    }
    const q = dstWidth == 1 ? usize(load<u8>(table + h)) : usize(load<u16>(table + (h << 1)));
    if (dstWidth == 1) store<u8>(dst + e, u8(q));
    else store<u16>(dst + (e << 1), u16(q));
    const w = f64(reinterpret<f32>(bits));
    const error = abs<f64>(load<f64>(values + (q << 3)) * scale - w);
    maxAbs = max<f64>(maxAbs, error);
    squares += error * error;
    valueSquares += w * w;
    if (w != 0) maxRel = max<f64>(maxRel, error / abs<f64>(w));
  }
  store<f64>(stats, maxAbs);
  store<f64>(stats, squares, 8);
  store<f64>(stats, valueSquares, 16);
  store<f64>(stats, maxRel, 24);
  return k;
}

/** Largest |w| and the sum of w² of n fp32 weights at src, as 2 f64 at `out`. */
export function magnitudes(src: usize, n: usize, out: usize): void {
  let largest: f64 = 0;
  let squares: f64 = 0;
  for (let e: usize = 0; e < n; e++) {
    const w = f64(load<f32>(src + (e << 2)));
    largest = max<f64>(largest, abs<f64>(w));
    squares += w * w;
  }
  store<f64>(out, largest);
  store<f64>(out, squares, 8);
}
