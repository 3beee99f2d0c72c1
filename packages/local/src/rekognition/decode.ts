/**
 * Turns image bytes into the detector's pixel grid with sharp, enforcing Custom Labels' image rules
 * first (PNG or JPEG only; 64×64 to 4096×4096; aspect ratio at most 20:1).
 */
import sharp from "sharp";
import { GRID_SIZE, type Pixels } from "./features";

export const MIN_IMAGE_SIDE = 64;
export const MAX_IMAGE_SIDE = 4096;
export const MAX_ASPECT_RATIO = 20;

/** Not PNG or JPEG, empty, corrupt or truncated. */
export class UnsupportedImageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedImageFormatError";
  }
}

/** A readable PNG/JPEG whose dimensions Custom Labels does not accept. */
export class ImageDimensionsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageDimensionsError";
  }
}

export type ImageFormat = "png" | "jpeg";

/** Identifies PNG or JPEG by magic bytes, as the service does, not by file name or content type. */
export function sniffFormat(body: Uint8Array): ImageFormat | undefined {
  if (body.length >= 8 && body[0] === 0x89 && body[1] === 0x50 && body[2] === 0x4e && body[3] === 0x47) {
    return "png";
  }
  if (body.length >= 3 && body[0] === 0xff && body[1] === 0xd8 && body[2] === 0xff) return "jpeg";
  return undefined;
}

/** Checks format and dimensions, then decodes to a GRID_SIZE×GRID_SIZE RGB grid (alpha flattened on white). */
export async function decodeImage(
  body: Uint8Array,
): Promise<Pixels & { original: { width: number; height: number } }> {
  if (body.length === 0) throw new UnsupportedImageFormatError("The image is empty (0 bytes)");
  const format = sniffFormat(body);
  if (!format) throw new UnsupportedImageFormatError("The image is not a PNG or JPEG");
  // failOn "warning" makes truncated or damaged files fail instead of decoding as grey padding.
  const image = sharp(body, { failOn: "warning" });
  let width: number;
  let height: number;
  try {
    const meta = await image.metadata();
    width = meta.width ?? 0;
    height = meta.height ?? 0;
  } catch {
    throw new UnsupportedImageFormatError(`The ${format.toUpperCase()} image is corrupt`);
  }
  if (width < MIN_IMAGE_SIDE || height < MIN_IMAGE_SIDE) {
    throw new ImageDimensionsError(
      `The image is ${width}×${height}; the minimum is ${MIN_IMAGE_SIDE}×${MIN_IMAGE_SIDE} pixels`,
    );
  }
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new ImageDimensionsError(
      `The image is ${width}×${height}; the maximum is ${MAX_IMAGE_SIDE}×${MAX_IMAGE_SIDE} pixels`,
    );
  }
  if (Math.max(width, height) / Math.min(width, height) > MAX_ASPECT_RATIO) {
    throw new ImageDimensionsError(`The image is ${width}×${height}; the maximum aspect ratio is 20:1`);
  }
  try {
    const data = await image
      .flatten({ background: "#ffffff" })
      .removeAlpha()
      .toColourspace("srgb")
      .resize(GRID_SIZE, GRID_SIZE, { fit: "fill" })
      .raw()
      .toBuffer();
    return {
      width: GRID_SIZE,
      height: GRID_SIZE,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      original: { width, height },
    };
  } catch {
    throw new UnsupportedImageFormatError(`The ${format.toUpperCase()} image is corrupt or truncated`);
  }
}

/** A pixel rectangle inside an image. */
export interface PixelRegion {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Decodes one rectangle of an already validated image to the grid (crops for object-detection
 * training and inference). The rectangle is clamped to the image; an empty one is refused.
 */
export async function decodeRegion(body: Uint8Array, region: PixelRegion): Promise<Pixels> {
  const image = sharp(body, { failOn: "warning" });
  let meta: { width?: number; height?: number };
  try {
    meta = await image.metadata();
  } catch {
    throw new UnsupportedImageFormatError("The image is corrupt");
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  const left = Math.max(0, Math.min(width - 1, Math.floor(region.left)));
  const top = Math.max(0, Math.min(height - 1, Math.floor(region.top)));
  const right = Math.max(left + 1, Math.min(width, Math.ceil(region.left + region.width)));
  const bottom = Math.max(top + 1, Math.min(height, Math.ceil(region.top + region.height)));
  if (width === 0 || height === 0 || region.width <= 0 || region.height <= 0) {
    throw new ImageDimensionsError("The region to decode is empty");
  }
  try {
    const data = await image
      .extract({ left, top, width: right - left, height: bottom - top })
      .flatten({ background: "#ffffff" })
      .removeAlpha()
      .toColourspace("srgb")
      .resize(GRID_SIZE, GRID_SIZE, { fit: "fill" })
      .raw()
      .toBuffer();
    return {
      width: GRID_SIZE,
      height: GRID_SIZE,
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    };
  } catch {
    throw new UnsupportedImageFormatError("The image is corrupt or truncated");
  }
}
