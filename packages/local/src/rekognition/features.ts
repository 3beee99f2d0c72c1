/**
 * Feature extraction for the embedded detector: pure functions of decoded RGB pixels.
 *
 * A logo can sit anywhere, small or large, tilted, half transparent, on a pale or on a busy
 * background. So the features first separate the logo from the background (whatever colours the
 * image's border has), then describe only the logo, in ways that do not change when it moves,
 * shrinks or turns:
 * - its colours (a hue × brightness histogram plus near-black / near-white / grey shares), for the
 *   whole logo and separately for its inner and outer parts (a white inset or a dark band);
 * - its silhouette: the outline's distance from the centre as a function of angle, reduced to the
 *   magnitudes of its Fourier harmonics (a triangle has a strong 3rd, a square a 4th, a circle none),
 *   which do not depend on rotation or size;
 * - its edge orientations, reduced the same way (harmonic magnitudes of the orientation histogram),
 *   and how much inner detail (text, bands) it has.
 * A few whole-image colour values stay in so that an image with no separable logo still has features.
 */

/** A decoded image: `data` holds `width × height` RGB triplets, row-major. */
export interface Pixels {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Side of the square grid images are resized to before feature extraction. */
export const GRID_SIZE = 64;

const HUE_BINS = 12;
const RING_HUE_BINS = 8;
const TONES = 3;
const ANGLE_BINS = 48;
const SHAPE_HARMONICS = 8;
const ORIENTATION_BINS = 12;
const ORIENTATION_HARMONICS = 4;

const COLOUR_LENGTH = HUE_BINS * 2 + TONES;
const RING_LENGTH = (RING_HUE_BINS + TONES) * 2;
/** Fill ratio, radius spread, relative size and aspect of the silhouette. */
const SILHOUETTE_EXTRAS = 4;
const SHAPE_LENGTH = SHAPE_HARMONICS + SILHOUETTE_EXTRAS;
/** Orientation harmonics and inner edge density. */
const EDGE_LENGTH = ORIENTATION_HARMONICS + 1;
/** Whole-image chroma and saturated share. */
const GLOBAL_LENGTH = 2;

/** Number of values `extractFeatures` returns. */
export const FEATURE_LENGTH = COLOUR_LENGTH + RING_LENGTH + SHAPE_LENGTH + EDGE_LENGTH + GLOBAL_LENGTH;

/** Where each group of values sits in the vector, as [start, end) (for diagnosis and tests). */
export const FEATURE_GROUPS = {
  logoColour: [0, COLOUR_LENGTH],
  ringColour: [COLOUR_LENGTH, COLOUR_LENGTH + RING_LENGTH],
  silhouette: [COLOUR_LENGTH + RING_LENGTH, COLOUR_LENGTH + RING_LENGTH + SHAPE_LENGTH],
  edges: [
    COLOUR_LENGTH + RING_LENGTH + SHAPE_LENGTH,
    COLOUR_LENGTH + RING_LENGTH + SHAPE_LENGTH + EDGE_LENGTH,
  ],
  wholeImage: [FEATURE_LENGTH - GLOBAL_LENGTH, FEATURE_LENGTH],
} as const;

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

/** RGB distance from which a pixel no longer looks like the background (noise stays below). */
const BACKGROUND_NEAR = 36;
const BACKGROUND_FAR = 72;
/** A border colour is background only when this share of the border looks like it (a logo touching the edge does not). */
const BACKGROUND_SUPPORT = 0.1;
/** Background colours closer than this to a kept one are not kept (well below BACKGROUND_NEAR). */
const BACKGROUND_DUPLICATE = 8;

/**
 * How much each pixel looks like foreground (0..1): its RGB distance to the nearest background
 * colour, where the background colours are the border's well-supported colours.
 */
function foregroundWeights(width: number, height: number, data: Uint8Array): Float64Array {
  const border: number[] = [];
  const push = (i: number) => border.push(data[i * 3] ?? 0, data[i * 3 + 1] ?? 0, data[i * 3 + 2] ?? 0);
  for (let x = 0; x < width; x++) {
    push(x);
    push((height - 1) * width + x);
  }
  for (let y = 1; y < height - 1; y++) {
    push(y * width);
    push(y * width + width - 1);
  }
  const n = border.length / 3;
  const supported: number[] = [];
  const near = BACKGROUND_NEAR ** 2;
  for (let i = 0; i < n; i++) {
    let support = 0;
    for (let j = 0; j < n; j++) {
      const d =
        ((border[i * 3] ?? 0) - (border[j * 3] ?? 0)) ** 2 +
        ((border[i * 3 + 1] ?? 0) - (border[j * 3 + 1] ?? 0)) ** 2 +
        ((border[i * 3 + 2] ?? 0) - (border[j * 3 + 2] ?? 0)) ** 2;
      if (d <= near) support++;
    }
    if (support < BACKGROUND_SUPPORT * n) continue;
    const r = border[i * 3] ?? 0;
    const g = border[i * 3 + 1] ?? 0;
    const b = border[i * 3 + 2] ?? 0;
    // Near-duplicates add nothing but time: every pixel is compared with every kept colour.
    let duplicate = false;
    for (let k = 0; k < supported.length && !duplicate; k += 3) {
      const d =
        (r - (supported[k] ?? 0)) ** 2 +
        (g - (supported[k + 1] ?? 0)) ** 2 +
        (b - (supported[k + 2] ?? 0)) ** 2;
      duplicate = d <= BACKGROUND_DUPLICATE ** 2;
    }
    if (!duplicate) supported.push(r, g, b);
  }
  // A border with no dominant colour at all (a logo filling the frame): every border colour counts.
  const background = supported.length > 0 ? supported : border;
  const count = width * height;
  const weights = new Float64Array(count);
  for (let p = 0; p < count; p++) {
    const r = data[p * 3] ?? 0;
    const g = data[p * 3 + 1] ?? 0;
    const b = data[p * 3 + 2] ?? 0;
    let nearest = Number.POSITIVE_INFINITY;
    for (let k = 0; k < background.length; k += 3) {
      const d =
        (r - (background[k] ?? 0)) ** 2 +
        (g - (background[k + 1] ?? 0)) ** 2 +
        (b - (background[k + 2] ?? 0)) ** 2;
      if (d < nearest) nearest = d;
      if (nearest <= near) break;
    }
    const distance = Math.sqrt(nearest);
    weights[p] = Math.min(1, Math.max(0, (distance - BACKGROUND_NEAR) / (BACKGROUND_FAR - BACKGROUND_NEAR)));
  }
  return weights;
}

/**
 * Keeps the largest connected blob of foreground (after one dilation, which joins a logo's pieces);
 * noise specks and stray background pixels elsewhere drop out. Returns undefined when there is none.
 */
function largestBlob(width: number, height: number, weights: Float64Array): Uint8Array | undefined {
  const count = width * height;
  const grown = new Uint8Array(count);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((weights[y * width + x] ?? 0) < 0.5) continue;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx >= 0 && ny >= 0 && nx < width && ny < height) grown[ny * width + nx] = 1;
        }
      }
    }
  }
  const component = new Int32Array(count).fill(-1);
  let best = -1;
  let bestArea = 0;
  let id = 0;
  const stack: number[] = [];
  for (let start = 0; start < count; start++) {
    if (!grown[start] || component[start] !== -1) continue;
    let area = 0;
    component[start] = id;
    stack.push(start);
    const visit = (n: number) => {
      if (grown[n] && component[n] === -1) {
        component[n] = id;
        stack.push(n);
      }
    };
    while (stack.length > 0) {
      const i = stack.pop() as number;
      area++;
      const x = i % width;
      const y = (i - x) / width;
      if (x > 0) visit(i - 1);
      if (x < width - 1) visit(i + 1);
      if (y > 0) visit(i - width);
      if (y < height - 1) visit(i + width);
    }
    if (area > bestArea) {
      bestArea = area;
      best = id;
    }
    id++;
  }
  if (best < 0 || bestArea < 0.01 * count) return undefined;
  const mask = new Uint8Array(count);
  for (let i = 0; i < count; i++) if (component[i] === best && (weights[i] ?? 0) >= 0.5) mask[i] = 1;
  return mask;
}

/** Magnitudes of harmonics 1..n of a circular signal, relative to its mean (harmonic 0). */
function harmonics(signal: ArrayLike<number>, n: number): number[] {
  const length = signal.length;
  let mean = 0;
  for (let i = 0; i < length; i++) mean += signal[i] ?? 0;
  mean /= length;
  const out: number[] = [];
  for (let k = 1; k <= n; k++) {
    let re = 0;
    let im = 0;
    for (let i = 0; i < length; i++) {
      const angle = (2 * Math.PI * k * i) / length;
      re += (signal[i] ?? 0) * Math.cos(angle);
      im -= (signal[i] ?? 0) * Math.sin(angle);
    }
    out.push(mean <= 1e-12 ? 0 : Math.sqrt(re * re + im * im) / length / mean);
  }
  return out;
}

/** Colour histogram of the pixels selected by `weightOf` into `out[offset…]`: hue bins (bright, dark) then tones. */
function colourHistogram(
  hsv: Float64Array,
  pixels: readonly number[],
  weightOf: (p: number) => number,
  out: Float64Array,
  offset: number,
  hueBins: number,
  splitDark: boolean,
) {
  const toneOffset = offset + hueBins * (splitDark ? 2 : 1);
  for (const p of pixels) {
    const w = weightOf(p);
    if (w <= 0) continue;
    const h = hsv[p * 3] ?? 0;
    const s = hsv[p * 3 + 1] ?? 0;
    const v = hsv[p * 3 + 2] ?? 0;
    // Chromatic share by saturation, so half-transparent (washed out) colours still count as colour.
    const chroma = Math.min(1, Math.max(0, (s * v - 0.08) / 0.22));
    if (chroma > 0) {
      addCircular(out, offset + (splitDark && v < 0.55 ? hueBins : 0), hueBins, h, w * chroma);
    }
    const grey = w * (1 - chroma);
    const tone = toneOffset + (v < 0.3 ? 0 : v > 0.75 ? 1 : 2);
    if (grey > 0) out[tone] = (out[tone] ?? 0) + grey;
  }
  normalise(out, offset, toneOffset + TONES);
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
  const hsv = new Float64Array(count * 3);
  let chromaSum = 0;
  let saturated = 0;
  for (let p = 0; p < count; p++) {
    const [h, s, v] = rgbToHsv(data[p * 3] ?? 0, data[p * 3 + 1] ?? 0, data[p * 3 + 2] ?? 0);
    hsv[p * 3] = h;
    hsv[p * 3 + 1] = s;
    hsv[p * 3 + 2] = v;
    chromaSum += (s * v) ** 2;
    if (s > 0.5 && v > 0.3) saturated++;
  }

  const weights = foregroundWeights(width, height, data);
  const blob = largestBlob(width, height, weights);
  // Without a separable logo the whole image is described, so that the vector is still meaningful.
  const mask = blob ?? new Uint8Array(count).fill(1);
  const weightOf = blob ? (p: number) => (mask[p] ? (weights[p] ?? 0) : 0) : () => 1;

  let cx = 0;
  let cy = 0;
  let mass = 0;
  let minX = width;
  let maxX = 0;
  let minY = height;
  let maxY = 0;
  for (let p = 0; p < count; p++) {
    if (!mask[p]) continue;
    const x = p % width;
    const y = (p - x) / width;
    cx += x;
    cy += y;
    mass++;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  cx /= Math.max(1, mass);
  cy /= Math.max(1, mass);

  // Outline: the farthest mask pixel from the centre in each direction.
  const radius = new Float64Array(ANGLE_BINS);
  for (let p = 0; p < count; p++) {
    if (!mask[p]) continue;
    const x = p % width;
    const y = (p - x) / width;
    const dx = x - cx;
    const dy = y - cy;
    const r = Math.sqrt(dx * dx + dy * dy) + 0.5;
    const bin = Math.floor(((Math.atan2(dy, dx) + Math.PI) / (2 * Math.PI)) * ANGLE_BINS) % ANGLE_BINS;
    if (r > (radius[bin] ?? 0)) radius[bin] = r;
  }
  // Small silhouettes leave some directions without a pixel: borrow the neighbours' radius.
  for (let pass = 0; pass < ANGLE_BINS; pass++) {
    let filled = true;
    for (let i = 0; i < ANGLE_BINS; i++) {
      if ((radius[i] ?? 0) > 0) continue;
      filled = false;
      const before = radius[(i + ANGLE_BINS - 1) % ANGLE_BINS] ?? 0;
      const after = radius[(i + 1) % ANGLE_BINS] ?? 0;
      if (before > 0 || after > 0) radius[i] = Math.max(before, after);
    }
    if (filled) break;
  }
  let meanRadius = 0;
  for (let i = 0; i < ANGLE_BINS; i++) meanRadius += (radius[i] ?? 0) / ANGLE_BINS;
  let radiusSpread = 0;
  for (let i = 0; i < ANGLE_BINS; i++) radiusSpread += ((radius[i] ?? 0) - meanRadius) ** 2 / ANGLE_BINS;

  // Only the logo's pixels carry colour weight; listing them once keeps the three histograms cheap.
  const logoPixels: number[] = [];
  for (let p = 0; p < count; p++) if (weightOf(p) > 0) logoPixels.push(p);
  let offset = 0;
  colourHistogram(hsv, logoPixels, weightOf, out, offset, HUE_BINS, true);
  offset += COLOUR_LENGTH;
  // Inner and outer parts of the logo, split at half its mean radius from the centre.
  const inner = (p: number) => {
    const x = p % width;
    const y = (p - x) / width;
    return (x - cx) ** 2 + (y - cy) ** 2 < (0.5 * meanRadius) ** 2;
  };
  colourHistogram(hsv, logoPixels, (p) => (inner(p) ? weightOf(p) : 0), out, offset, RING_HUE_BINS, false);
  offset += RING_HUE_BINS + TONES;
  colourHistogram(hsv, logoPixels, (p) => (inner(p) ? 0 : weightOf(p)), out, offset, RING_HUE_BINS, false);
  offset += RING_HUE_BINS + TONES;

  for (const value of harmonics(radius, SHAPE_HARMONICS)) out[offset++] = value;
  out[offset++] = meanRadius <= 0 ? 0 : mass / (Math.PI * meanRadius * meanRadius);
  out[offset++] = meanRadius <= 0 ? 0 : Math.sqrt(radiusSpread) / meanRadius;
  out[offset++] = Math.sqrt(mass / count);
  const boxWidth = maxX - minX + 1;
  const boxHeight = maxY - minY + 1;
  out[offset++] = mass === 0 ? 0 : Math.min(boxWidth, boxHeight) / Math.max(boxWidth, boxHeight);

  // Edge orientations inside the logo, from the strongest colour channel's gradient.
  const channel = (x: number, y: number, c: number) => data[(y * width + x) * 3 + c] ?? 0;
  const orientations = new Float64Array(ORIENTATION_BINS);
  let innerEdges = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const p = y * width + x;
      if (!mask[p] && !mask[p - 1] && !mask[p + 1] && !mask[p - width] && !mask[p + width]) continue;
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
      if (magnitude < 0.08) continue; // noise-sized gradients carry no shape information
      const orientation = ((Math.atan2(gy, gx) + Math.PI) % Math.PI) / Math.PI;
      addCircular(orientations, 0, ORIENTATION_BINS, orientation, magnitude);
      // Edges well inside the outline are the logo's own detail (text, bands, insets).
      if ((x - cx) ** 2 + (y - cy) ** 2 < (0.7 * meanRadius) ** 2) innerEdges += magnitude;
    }
  }
  for (const value of harmonics(orientations, ORIENTATION_HARMONICS)) out[offset++] = value;
  out[offset++] = mass === 0 ? 0 : Math.sqrt(innerEdges / mass);
  out[offset++] = Math.sqrt(chromaSum / count);
  out[offset++] = Math.sqrt(saturated / count);
  return Array.from(out);
}
