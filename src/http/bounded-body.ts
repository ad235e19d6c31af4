/**
 * Reads a response body as text with a named limit: a declared length over it is
 * refused before reading, and a chunked body is counted as it arrives, so a huge or
 * endless answer costs at most `bytesMax` of memory.
 */

export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}

export async function readBodyBounded(response: Response, bytesMax: number): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > bytesMax) {
    await response.body?.cancel();
    throw new BodyTooLargeError(`body of ${declared} bytes exceeds ${bytesMax}`);
  }
  if (response.body === null) return "";
  const decoder = new TextDecoder();
  let text = "";
  let bytes = 0;
  const reader = response.body.getReader();
  // Each read returns at least one byte, so bytesMax also bounds the loop.
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return text + decoder.decode();
    bytes += value.byteLength;
    if (bytes > bytesMax) {
      await reader.cancel();
      throw new BodyTooLargeError(`body exceeds ${bytesMax} bytes`);
    }
    text += decoder.decode(value, { stream: true });
  }
}
