/* XOR masking (RFC 6455 section 5.3) as fast as a plain C loop gets: the
 * physical limit the Python libraries' masking kernels are compared with.
 * Compiled at run time by bench/limits.py with `cc -O3 -march=native`. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

void xor_mask(const unsigned char *src, unsigned char *dst, size_t len, const unsigned char *key)
{
    uint64_t key64;
    unsigned char k8[8];
    size_t i = 0;

    memcpy(k8, key, 4);
    memcpy(k8 + 4, key, 4);
    memcpy(&key64, k8, 8);
    /* The compiler vectorises this loop at -O3. */
    for (; i + 8 <= len; i += 8) {
        uint64_t word;
        memcpy(&word, src + i, 8);
        word ^= key64;
        memcpy(dst + i, &word, 8);
    }
    for (; i < len; i++) {
        dst[i] = src[i] ^ key[i & 3];
    }
}
