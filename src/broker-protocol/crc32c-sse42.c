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

static inline u32 crc_u8(u32 crc, u32 value) {
  __asm__ volatile(".byte 0xf2, 0x0f, 0x38, 0xf0, 0xc2" : "+a"(crc) : "d"(value));
  return crc;
}

u32 crc32c_sse42(int crcSigned, const u8 *bytes, u64 length) {
  u32 crc = (u32)crcSigned;
  u64 c = (~crc) & 0xffffffffULL;
  u64 words = length >> 3;
  if (words > 0) {
    /* The 8-byte loop is written whole in assembly: TinyCC does not optimise, and
     * keeping c in memory between crc32q steps ran at under half the speed. */
    __asm__ volatile(
      "1:\n\t"
      "movq (%%rsi), %%rdx\n\t"
      ".byte 0xf2, 0x48, 0x0f, 0x38, 0xf1, 0xc2\n\t"
      "addq $8, %%rsi\n\t"
      "decq %%rcx\n\t"
      "jnz 1b\n\t"
      : "+a"(c), "+S"(bytes), "+c"(words)
      :
      : "rdx", "cc", "memory");
  }
  length &= 7;
  u32 c32 = (u32)c;
  while (length > 0) {
    c32 = crc_u8(c32, *bytes);
    bytes += 1;
    length -= 1;
  }
  return ~c32;
}
