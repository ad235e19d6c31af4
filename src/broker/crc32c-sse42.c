/*
 * CRC32C with the SSE4.2 crc32 instruction, compiled at start-up by Bun's built-in
 * TinyCC (bun:ffi cc). TinyCC's assembler does not know the crc32 mnemonic, so the
 * instructions are spelled as bytes; no system headers are needed.
 *   crc32q %rdx, %rax = f2 48 0f 38 f1 c2
 *   crc32b %dl,  %eax = f2 0f 38 f0 c2
 */
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;

static inline u64 crc_u64(u64 crc, u64 value) {
  __asm__ volatile(".byte 0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc2" : "+a"(crc) : "d"(value));
  return crc;
}

static inline u32 crc_u8(u32 crc, u32 value) {
  __asm__ volatile(".byte 0xf2, 0x0f, 0x38, 0xf0, 0xc2" : "+a"(crc) : "d"(value));
  return crc;
}

u32 crc32c_sse42(int crcSigned, const u8 *bytes, u64 length) {
  u32 crc = (u32)crcSigned;
  u64 c = (~crc) & 0xffffffffULL;
  while (length >= 8) {
    c = crc_u64(c, *(const u64 *)bytes);
    bytes += 8;
    length -= 8;
  }
  u32 c32 = (u32)c;
  while (length > 0) {
    c32 = crc_u8(c32, *bytes);
    bytes += 1;
    length -= 1;
  }
  return ~c32;
}
