/* Murmur MCU framed protocol, reference implementation: portable C99, no dynamic allocation, no I/O.
 * Wire: COBS(CBOR payload || CRC-32 little-endian) 0x00. Payload: [type, seq, ack, method, body].
 * The board feeds received bytes to mcu_rx_byte(); frames it sends go out through the write callback.
 * ARCHITECTURE.md ("MCU framed protocol") describes the messages; firmware-bridge/mcu/ is the host side. */
#ifndef MURMUR_MCU_H
#define MURMUR_MCU_H

#include <stddef.h>
#include <stdint.h>

#define MCU_PROTOCOL_VERSION 1u
#define MCU_FRAME_MAX 256u                                       /* decoded frame: CBOR + 4-byte CRC */
#define MCU_PAYLOAD_MAX (MCU_FRAME_MAX - 4u)                      /* the CBOR payload, before its CRC */
#define MCU_ENCODED_MAX (MCU_FRAME_MAX + MCU_FRAME_MAX / 254u + 2u) /* COBS worst case */
#define MCU_DEDUP_SLOTS 64u                                      /* > 2 x the host's request window */
#define MCU_RESPONSE_MAX 96u                                     /* cached response payload bytes */
/* Every integer on the wire fits +-(2^53 - 1), the range a JavaScript host reads exactly (docs/mcu.md):
 * an ADD that would take the accumulator past it is refused with ERROR out-of-range. A build may set a
 * smaller bound (the tests do, to reach it). */
#ifndef MCU_ACCUMULATOR_MAX
#define MCU_ACCUMULATOR_MAX 9007199254740991ll
#endif

enum mcu_type { MCU_HELLO = 0, MCU_HELLO_ACK = 1, MCU_REQUEST = 2, MCU_RESPONSE = 3, MCU_TELEMETRY = 4, MCU_ERROR = 5 };
enum mcu_method { MCU_M_ECHO = 1, MCU_M_ADD = 2, MCU_M_STATS = 3, MCU_M_TELEMETRY_RATE = 4 };
enum mcu_error { MCU_E_UNKNOWN_METHOD = 1, MCU_E_BAD_BODY = 2, MCU_E_NO_HANDSHAKE = 3, MCU_E_VERSION = 4, MCU_E_TOO_OLD = 5, MCU_E_TOO_LARGE = 6, MCU_E_OUT_OF_RANGE = 7 };

typedef void (*mcu_write_fn)(void *user, const uint8_t *bytes, size_t len);

struct mcu_stats {
  uint32_t frames_ok;
  uint32_t bad_cobs;
  uint32_t bad_crc;
  uint32_t bad_cbor;
  uint32_t oversize;
  uint32_t applied;    /* ADD requests applied: each sequence number at most once */
  uint32_t duplicates; /* retried requests answered from the cache, not applied again */
};

struct mcu_slot {
  uint32_t seq;
  uint8_t used;
  uint8_t len;
  uint8_t payload[MCU_RESPONSE_MAX];
};

struct mcu_ctx {
  mcu_write_fn write;
  void *user;
  uint8_t rx[MCU_ENCODED_MAX];
  size_t rx_len;
  uint8_t rx_overflow;
  uint32_t tx_seq;
  uint32_t max_seq_seen;
  uint8_t any_seen;
  uint8_t version; /* 0 until the host's HELLO was accepted */
  int64_t accumulator;
  uint32_t digest; /* sum of FNV-1a(seq, delta) over applied ADDs: order-independent */
  uint32_t telemetry_period_ms;
  uint32_t next_telemetry_ms;
  uint32_t telemetry_count;
  struct mcu_stats stats;
  struct mcu_slot slots[MCU_DEDUP_SLOTS];
};

void mcu_init(struct mcu_ctx *c, mcu_write_fn write, void *user);
void mcu_rx_byte(struct mcu_ctx *c, uint8_t byte, uint32_t now_ms);
/* Sends due telemetry; returns milliseconds until the next is due (UINT32_MAX when off). */
uint32_t mcu_poll(struct mcu_ctx *c, uint32_t now_ms);

size_t mcu_cobs_encode(const uint8_t *in, size_t len, uint8_t *out);
/* Returns the decoded length, or -1 for a malformed frame or one longer than out_max. */
long mcu_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_max);
uint32_t mcu_crc32(const uint8_t *p, size_t n);
uint32_t mcu_add_digest(uint32_t seq, int32_t delta);

#endif
