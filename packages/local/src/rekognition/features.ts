/**
 * Feature extraction for the embedded detector: pure functions of decoded RGB pixels. The features
 * describe what identifies a logo regardless of where it sits in the frame: which saturated colours
 * it has (hue × brightness histogram weighted towards saturated pixels, so pale backgrounds count
 * little), how much near-black and near-white it has, and the orientations of its edges (HOG-like).
 */

/** A decoded image: `data` holds `width × height` RGB triplets, row-major. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Side of the square grid images are resized to before feature extraction. */
export const GRID_SIZE = 48;

const HUE_BINS = 16;
const ORIENTATION_BINS = 12;

/** Number of values `extractFeatures` returns. */
export const FEATURE_LENGTH = HUE_BINS * 2 + 4 + ORIENTATION_BINS * 2 + 1;

/** Thrown when pixel data does not match its declared size. */
export class PixelDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PixelDataError";
  }
}

function rgbToHsv(r: number, g: number, b: number): [number, number, number] {
  const max = Math.max(r, g, b);
  const min = Math.min(r, g, b);
  const delta = max - min;
  const v = max / 255;
  const s = max === 0 ? 0 : delta / max;
  let h = 0;
  if (delta > 0) {
    if (max === r) h = ((g - b) / delta + 6) % 6;
    else if (max === g) h = (b - r) / delta + 2;
    else h = (r - g) / delta + 4;
  }
  return [h / 6, s, v];
}

/** Adds `weight` to a circular histogram, split linearly between the two nearest bins. */
function addCircular(hist: Float64Array, offset: number, bins: number, position: number, weight: number) {
  const x = position * bins - 0.5;
  const lower = Math.floor(x);
  const frac = x - lower;
  const a = ((lower % bins) + bins) % bins;
  const b = (a + 1) % bins;
  hist[offset + a] = (hist[offset + a] ?? 0) + weight * (1 - frac);
  hist[offset + b] = (hist[offset + b] ?? 0) + weight * frac;
}

function normalise(values: Float64Array, from: number, to: number) {
  let sum = 0;
  for (let i = from; i < to; i++) sum += values[i] ?? 0;
  if (sum <= 1e-12) return;
  // Square roots (Hellinger) stop one dominant bin from swamping distances.
  for (let i = from; i < to; i++) values[i] = Math.sqrt((values[i] ?? 0) / sum);
}

/** Computes the fixed-length feature vector of one image (any size; callers usually pass a GRID_SIZE grid). */
export function extractFeatures(pixels: Pixels): number[] {
  const { width, height, data } = pixels;
  if (width < 3 || height < 3 || data.length !== width * height * 3) {
    throw new PixelDataError(
      `Expected ${width}×${height} RGB pixels (at least 3×3), got ${data.length} bytes`,
    );
  }
  const out = new Float64Array(FEATURE_LENGTH);
  const count = width * height;
  const hueOffset = 0;
  const toneOffset = HUE_BINS * 2;
  const orientationOffset = toneOffset + 4;
  let dark = 0;
  let light = 0;
  let saturated = 0;
  let chroma = 0;
  for (let i = 0; i < count; i++) {
    const [h, s, v] = rgbToHsv(data[i * 3] ?? 0, data[i * 3 + 1] ?? 0, data[i * 3 + 2] ?? 0);
    // Squaring s·v makes saturated logo pixels outweigh pastel background pixels by ~10×.
    const weight = (s * v) ** 2;
    chroma += weight;
    addCircular(out, hueOffset + (v < 0.6 ? HUE_BINS : 0), HUE_BINS, h, weight);
    if (v < 0.2) dark++;
    if (v > 0.9 && s < 0.12) light++;
    if (s > 0.5 && v > 0.3) saturated++;
  }
  normalise(out, hueOffset, hueOffset + HUE_BINS * 2);
  out[toneOffset] = Math.sqrt(dark / count);
  out[toneOffset + 1] = Math.sqrt(light / count);
  out[toneOffset + 2] = Math.sqrt(saturated / count);
  out[toneOffset + 3] = Math.sqrt(chroma / count);

  // Colour gradients (the strongest channel) so that a yellow shape on a pale background still has edges.
  const channel = (x: number, y: number, c: number) => data[(y * width + x) * 3 + c] ?? 0;
  const center = { x: (width - 1) / 2, y: (height - 1) / 2 };
  let edgeEnergy = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      let gx = 0;
      let gy = 0;
      let best = -1;
      for (let c = 0; c < 3; c++) {
        const dx = channel(x + 1, y, c) - channel(x - 1, y, c);
        const dy = channel(x, y + 1, c) - channel(x, y - 1, c);
        const m = dx * dx + dy * dy;
        if (m > best) {
          best = m;
          gx = dx;
          gy = dy;
        }
      }
      const magnitude = Math.sqrt(best) / 510;
      if (magnitude < 0.04) continue; // sensor-noise-sized gradients carry no shape information
      edgeEnergy += magnitude;
      // Unsigned orientation in [0, 1): a shape's edges look the same whichever side is brighter.
      const orientation = ((Math.atan2(gy, gx) + Math.PI) % Math.PI) / Math.PI;
      // Inner and outer halves separate a logo's own edges from the frame's.
      const inner = Math.abs(x - center.x) < width / 4 && Math.abs(y - center.y) < height / 4;
      addCircular(
        out,
        orientationOffset + (inner ? ORIENTATION_BINS : 0),
        ORIENTATION_BINS,
        orientation,
        magnitude,
      );
    }
  }
  normalise(out, orientationOffset, orientationOffset + ORIENTATION_BINS);
  normalise(out, orientationOffset + ORIENTATION_BINS, orientationOffset + ORIENTATION_BINS * 2);
  out[FEATURE_LENGTH - 1] = Math.sqrt(edgeEnergy / count);
  return Array.from(out);
}
