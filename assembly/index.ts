// The Wasm side of ansfloat: every per-element loop. JavaScript lays out
// buffers in this module's memory above heapBase() and calls these once per
// chunk; nothing here is called per element.

import { initRawTables } from "./rawbits";
import { initDecodeTables } from "./decode";
import { initEncodeTables } from "./rans";
import { initShapeTables } from "./shape";

export { checksum } from "./checksum";
export { addCounts, channelMaxima, compactCounts, histogram, histogramByChannel, packRaw } from "./split";
export { buildEncodeTable, encodeCodes } from "./rans";
export { buildDecodeTable, decodeCodes } from "./decode";
export { headerDetail, readModelsAndStates } from "./header";
export { restoreStateBits, takeStateBits } from "./statebits";
export { convertPatterns, roundFp32 } from "./convert";
export { magnitudes, quantizeFp32 } from "./quantize";
export { shapeBeta, shapeFit, shapeModelBits, shapeScale, shapeScaleBase } from "./shape";
export { largestFreq, modelBits, normalize, normalizeCounts, normalizeFreqs, normalizeLogs, normalizeResolved, normalizeSymbols, payloadBits, symbolSetBits } from "./normalize";

initRawTables();
initDecodeTables();
initEncodeTables();
initShapeTables();

/** First byte of memory free for the caller's buffers. */
export function heapBase(): usize {
  return (__heap_base + 63) & ~63;
}
