import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { ServiceError } from "../../src/edge/protocol";
import { AwsChunkedDecoder, BodyDigests } from "../../src/s3/body";
import { compareKeys, decodeSegment, encodeEventKey, encodeSegment, validateKey } from "../../src/s3/keys";

describe("S3 key storage names", () => {
  it.each([
    "plain.png",
    "with space",
    "日本語",
    "a+b",
    "100%",
    "%25",
    ".",
    "..",
    "",
    "%",
    'c:o*n?"<>|',
    "ends with dot.",
    "ends with space ",
  ])("round-trips the segment %j through a safe file name", (segment) => {
    // Arrange
    const original = segment;
    // Act
    const name = encodeSegment(original);
    // Assert
    expect(decodeSegment(name)).toBe(original);
    expect(name).not.toMatch(/^\.{1,2}$/);
    expect(name).not.toMatch(/[/\\:*?"<>|]/);
    expect(name).not.toMatch(/[. ]$/);
    expect(name.length).toBeGreaterThan(0);
  });

  it("encodes event keys like classic S3 notifications: + for space, %XX for reserved and non-ASCII, / kept", () => {
    // Arrange
    const key = "images_for_detection/my logo (1)+é&x=y~.png";
    // Act
    const encoded = encodeEventKey(key);
    // Assert
    expect(encoded).toBe("images_for_detection/my+logo+%281%29%2B%C3%A9%26x%3Dy~.png");
    expect(decodeURIComponent(encoded.replaceAll("+", " "))).toBe(key);
  });

  it("orders keys by UTF-8 bytes, which differs from JavaScript's UTF-16 order above U+FFFF", () => {
    // Arrange
    const emoji = "\u{1f600}";
    const highBmp = "\uffff";
    // Act
    const order = compareKeys(highBmp, emoji);
    // Assert
    expect(highBmp < emoji).toBe(false);
    expect(order).toBeLessThan(0);
  });

  it("refuses an empty key and a key with a lone surrogate", () => {
    // Arrange
    const keys = ["", "bad\ud800key"];
    // Act
    const errors = keys.map((key) => {
      try {
        validateKey(key);
        return undefined;
      } catch (error) {
        return (error as ServiceError).code;
      }
    });
    // Assert
    expect(errors).toEqual(["InvalidArgument", "InvalidObjectName"]);
  });

  it("refuses a key segment too long for one file name with KeyTooLongError", () => {
    // Arrange
    const key = `folder/${"x".repeat(300)}`;
    // Act
    const attempt = () => validateKey(key);
    // Assert
    expect(attempt).toThrow(ServiceError);
    expect(attempt).toThrow(/longer than the local filesystem allows/);
  });
});

describe("aws-chunked decoding", () => {
  it("decodes a body delivered one byte at a time and collects the trailers", async () => {
    // Arrange
    const data = Buffer.from("split across many tiny network reads");
    const framed = Buffer.from(
      `5;chunk-signature=abc\r\n${data.subarray(0, 5)}\r\n${(data.length - 5).toString(16)}\r\n${data.subarray(5)}\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\nx-amz-trailer-signature:xyz\r\n\r\n`,
    );
    const decoder = new AwsChunkedDecoder();
    // Act
    const decoded = await buffer(Readable.from([...framed].map((byte) => Buffer.from([byte]))).pipe(decoder));
    // Assert
    expect(decoded.toString()).toBe(data.toString());
    expect(decoder.trailers).toEqual({
      "x-amz-checksum-crc32": "AAAAAA==",
      "x-amz-trailer-signature": "xyz",
    });
  });

  it("fails a body that ends before its final zero-size chunk", async () => {
    // Arrange
    const framed = Buffer.from("5\r\nhel");
    // Act
    const result = buffer(Readable.from([framed]).pipe(new AwsChunkedDecoder()));
    // Assert
    await expect(result).rejects.toMatchObject({ code: "IncompleteBody" });
  });

  it("fails a chunk that carries more bytes than its size says", async () => {
    // Arrange
    const framed = Buffer.from("2\r\nhello\r\n0\r\n\r\n");
    // Act
    const result = buffer(Readable.from([framed]).pipe(new AwsChunkedDecoder()));
    // Assert
    await expect(result).rejects.toMatchObject({ code: "InvalidRequest" });
  });
});

describe("body digests", () => {
  it("verifies CRC32, CRC32C, SHA-1 and SHA-256 checksums and refuses a wrong one", () => {
    // Arrange
    const data = Buffer.from("123456789");
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(data));
    // CRC-32C("123456789") is the standard check value 0xE3069283.
    const crcC = Buffer.from("e3069283", "hex");
    const good = new BodyDigests({
      "x-amz-checksum-crc32": crc.toString("base64"),
      "x-amz-checksum-crc32c": crcC.toString("base64"),
      "x-amz-checksum-sha1": "98O8HYCOBHMq32eZZczDTKeuNEE=",
      "x-amz-checksum-sha256": "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=",
    });
    const bad = new BodyDigests({ "x-amz-checksum-crc32c": "AAAAAA==" });
    // Act
    good.update(data);
    bad.update(data);
    // Assert
    expect(good.verify()).toBe("25f9e794323b453885f5181f1b624d0b");
    expect(() => bad.verify()).toThrow(/CRC32C you specified did not match/);
  });
});
