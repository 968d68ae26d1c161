/* Murmur MCU framed protocol, reference implementation (see murmur_mcu.h). Portable C99: fixed
 * buffers only, no malloc, no floating point, no I/O; every loop is bounded by a buffer size. */
#include "murmur_mcu.h"

#include <string.h>

/* ---- COBS (Cheshire & Baker, 1999): no 0x00 inside a frame, so 0x00 delimits frames. ---- */

size_t mcu_cobs_encode(const uint8_t *in, size_t len, uint8_t *out) {
  size_t code_at = 0, o = 1, i;
  uint8_t code = 1;
  for (i = 0; i < len; i++) {
    if (in[i] == 0) {
      out[code_at] = code;
      code_at = o++;
      code = 1;
    } else {
      out[o++] = in[i];
      if (++code == 0xff) {
        out[code_at] = code;
        /* A full block that ends the input needs no empty block after it (0xff implies no zero). */
        if (i == len - 1) return o;
        code_at = o++;
        code = 1;
      }
    }
  }
  out[code_at] = code;
  return o;
}

long mcu_cobs_decode(const uint8_t *in, size_t len, uint8_t *out, size_t out_max) {
  size_t i = 0, o = 0;
  while (i < len) {
    uint8_t code = in[i++];
    uint8_t k;
    if (code == 0) return -1;
    for (k = 1; k < code; k++) {
      if (i >= len || o >= out_max || in[i] == 0) return -1;
      out[o++] = in[i++];
    }
    if (code != 0xff && i < len) {
      if (o >= out_max) return -1;
      out[o++] = 0;
    }
  }
  return (long)o;
}

/* ---- CRC-32 (IEEE 802.3, reflected, poly 0xEDB88320): 1 in 2^32 corrupt frames slips through. ---- */

uint32_t mcu_crc32(const uint8_t *p, size_t n) {
  uint32_t crc = 0xffffffffu;
  size_t i;
  int b;
  for (i = 0; i < n; i++) {
    crc ^= p[i];
    for (b = 0; b < 8; b++) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xffffffffu;
}

uint32_t mcu_add_digest(uint32_t seq, int32_t delta) {
  uint32_t h = 0x811c9dc5u, d = (uint32_t)delta;
  int i;
  for (i = 0; i < 4; i++) h = (h ^ ((seq >> (8 * i)) & 0xffu)) * 0x01000193u;
  for (i = 0; i < 4; i++) h = (h ^ ((d >> (8 * i)) & 0xffu)) * 0x01000193u;
  return h;
}

/* ---- A CBOR subset (RFC 8949): unsigned and negative integers, byte and text strings, arrays. ---- */

struct cbor_r {
  const uint8_t *p;
  size_t n, i;
  int err;
};

struct cbor_w {
  uint8_t *p;
  size_t cap, n;
  int err;
};

static int r_head(struct cbor_r *r, uint8_t *major, uint64_t *val) {
  uint8_t ib, ai;
  int bytes, k;
  if (r->err || r->i >= r->n) return r->err = 1, 0;
  ib = r->p[r->i++];
  *major = (uint8_t)(ib >> 5);
  ai = (uint8_t)(ib & 0x1f);
  if (ai < 24) return *val = ai, 1;
  if (ai > 27) return r->err = 1, 0; /* indefinite lengths and reserved values are not accepted */
  bytes = 1 << (ai - 24);
  if (r->n - r->i < (size_t)bytes) return r->err = 1, 0;
  *val = 0;
  for (k = 0; k < bytes; k++) *val = (*val << 8) | r->p[r->i++];
  return 1;
}

static int r_int(struct cbor_r *r, int64_t *out) {
  uint8_t m;
  uint64_t v;
  if (!r_head(r, &m, &v)) return 0;
  if (v > 0x7fffffffffffffffull || (m != 0 && m != 1)) return r->err = 1, 0;
  *out = m == 0 ? (int64_t)v : -1 - (int64_t)v;
  return 1;
}

static int r_uint32(struct cbor_r *r, uint32_t *out) {
  int64_t v;
  if (!r_int(r, &v) || v < 0 || v > 0xffffffffll) return r->err = 1, 0;
  *out = (uint32_t)v;
  return 1;
}

static int r_array(struct cbor_r *r, uint64_t *len) {
  uint8_t m;
  if (!r_head(r, &m, len)) return 0;
  if (m != 4) return r->err = 1, 0;
  return 1;
}

/* Skips one item, nesting at most 4 deep; arrays only (maps and tags are not part of the subset). */
static int r_skip(struct cbor_r *r, int depth) {
  uint8_t m;
  uint64_t v, k;
  if (depth > 4 || !r_head(r, &m, &v)) return r->err = 1, 0;
  if (m == 0 || m == 1) return 1;
  if (m == 2 || m == 3) {
    if (v > r->n - r->i) return r->err = 1, 0;
    r->i += (size_t)v;
    return 1;
  }
  if (m == 4) {
    if (v > r->n - r->i) return r->err = 1, 0; /* every item takes at least one byte */
    for (k = 0; k < v; k++)
      if (!r_skip(r, depth + 1)) return 0;
    return 1;
  }
  return r->err = 1, 0;
}

static void w_byte(struct cbor_w *w, uint8_t b) {
  if (w->n >= w->cap) {
    w->err = 1;
    return;
  }
  w->p[w->n++] = b;
}

static void w_head(struct cbor_w *w, uint8_t major, uint64_t v) {
  int bytes, k;
  uint8_t ai;
  if (v < 24) {
    w_byte(w, (uint8_t)((major << 5) | v));
    return;
  }
  if (v <= 0xff) ai = 24, bytes = 1;
  else if (v <= 0xffff) ai = 25, bytes = 2;
  else if (v <= 0xffffffffull) ai = 26, bytes = 4;
  else ai = 27, bytes = 8;
  w_byte(w, (uint8_t)((major << 5) | ai));
  for (k = bytes - 1; k >= 0; k--) w_byte(w, (uint8_t)(v >> (8 * k)));
}

static void w_int(struct cbor_w *w, int64_t v) {
  if (v >= 0) w_head(w, 0, (uint64_t)v);
  else w_head(w, 1, (uint64_t)(-1 - v));
}

static void w_text(struct cbor_w *w, const char *s) {
  size_t n = strlen(s), k;
  w_head(w, 3, n);
  for (k = 0; k < n; k++) w_byte(w, (uint8_t)s[k]);
}

static void w_raw(struct cbor_w *w, const uint8_t *p, size_t n) {
  size_t k;
  for (k = 0; k < n; k++) w_byte(w, p[k]);
}

/* ---- Frames ---- */

static void send_payload(struct mcu_ctx *c, const uint8_t *payload, size_t len) {
  uint8_t frame[MCU_FRAME_MAX];
  uint8_t enc[MCU_ENCODED_MAX + 1];
  uint32_t crc;
  size_t n;
  if (len > MCU_PAYLOAD_MAX) return; /* never: every payload is written into at most MCU_PAYLOAD_MAX */
  memcpy(frame, payload, len);
  crc = mcu_crc32(frame, len);
  frame[len] = (uint8_t)crc;
  frame[len + 1] = (uint8_t)(crc >> 8);
  frame[len + 2] = (uint8_t)(crc >> 16);
  frame[len + 3] = (uint8_t)(crc >> 24);
  n = mcu_cobs_encode(frame, len + 4, enc);
  enc[n++] = 0;
  c->write(c->user, enc, n);
}

/* Starts [type, seq, ack, method, ...]: the caller writes the body. */
static void begin(struct mcu_ctx *c, struct cbor_w *w, uint8_t *buf, size_t cap, uint8_t type, uint32_t ack, uint32_t method) {
  w->p = buf;
  w->cap = cap;
  w->n = 0;
  w->err = 0;
  w_head(w, 4, 5);
  w_head(w, 0, type);
  w_head(w, 0, c->tx_seq++);
  w_head(w, 0, ack);
  w_head(w, 0, method);
}

static void send_error(struct mcu_ctx *c, uint32_t ack, uint32_t method, uint32_t code) {
  uint8_t buf[32];
  struct cbor_w w;
  begin(c, &w, buf, sizeof buf, MCU_ERROR, ack, method);
  w_head(&w, 0, code);
  if (!w.err) send_payload(c, buf, w.n);
}

static void handle_hello(struct mcu_ctx *c, uint32_t seq, struct cbor_r *r) {
  uint64_t n;
  uint32_t lo, hi;
  uint8_t buf[48];
  struct cbor_w w;
  if (!r_array(r, &n) || n != 2 || !r_uint32(r, &lo) || !r_uint32(r, &hi)) {
    send_error(c, seq, 0, MCU_E_BAD_BODY);
    return;
  }
  if (lo > MCU_PROTOCOL_VERSION || hi < MCU_PROTOCOL_VERSION) {
    send_error(c, seq, 0, MCU_E_VERSION);
    return;
  }
  c->version = (uint8_t)MCU_PROTOCOL_VERSION;
  /* A HELLO starts a session: a host that restarted numbers its requests from 1 again, and the old
   * session's cached answers and newest sequence number would otherwise refuse them as too old or,
   * worse, answer them from the cache without applying them. Frames arrive in order, so no request
   * of the new session can precede its HELLO (a retried HELLO only resets an empty session again). */
  memset(c->slots, 0, sizeof c->slots);
  c->any_seen = 0;
  c->max_seq_seen = 0;
  begin(c, &w, buf, sizeof buf, MCU_HELLO_ACK, seq, 0);
  w_head(&w, 4, 2);
  w_head(&w, 0, MCU_PROTOCOL_VERSION);
  w_text(&w, "murmur-mcu-ref-c99");
  if (!w.err) send_payload(c, buf, w.n);
}

static void handle_request(struct mcu_ctx *c, uint32_t seq, uint32_t method, struct cbor_r *r) {
  struct mcu_slot *slot = &c->slots[seq % MCU_DEDUP_SLOTS];
  /* The answer's payload must leave room for the CRC in the frame: an answer that does not fit is
   * then ERROR too-large (w.err below), where a buffer of MCU_FRAME_MAX let answers of 253-256 bytes be
   * built and then dropped by send_payload, and the host timed out. */
  uint8_t buf[MCU_PAYLOAD_MAX];
  struct cbor_w w;
  size_t body_at = r->i;
  if (c->version == 0) {
    send_error(c, seq, method, MCU_E_NO_HANDSHAKE);
    return;
  }
  /* Too old to tell whether it was applied: refuse rather than risk applying it twice. Sequence
   * numbers wrap at 2^32 (the host skips 0), so "behind" is modular (RFC 1982 serial arithmetic):
   * up to half the space behind the newest counts as older. */
  if (c->any_seen && c->max_seq_seen - seq >= MCU_DEDUP_SLOTS && c->max_seq_seen - seq < 0x80000000u) {
    send_error(c, seq, method, MCU_E_TOO_OLD);
    return;
  }
  if (slot->used && slot->seq == seq) {
    c->stats.duplicates++;
    send_payload(c, slot->payload, slot->len); /* the answer we gave before, byte for byte */
    return;
  }
  begin(c, &w, buf, sizeof buf, MCU_RESPONSE, seq, method);
  switch (method) {
    case MCU_M_ECHO:
      if (!r_skip(r, 0)) {
        send_error(c, seq, method, MCU_E_BAD_BODY);
        return;
      }
      w_raw(&w, r->p + body_at, r->i - body_at);
      break;
    case MCU_M_ADD: {
      int64_t delta;
      if (!r_int(r, &delta) || delta < -2147483647ll || delta > 2147483647ll) {
        send_error(c, seq, method, MCU_E_BAD_BODY);
        return;
      }
      if (c->accumulator + delta > MCU_ACCUMULATOR_MAX || c->accumulator + delta < -MCU_ACCUMULATOR_MAX) {
        send_error(c, seq, method, MCU_E_OUT_OF_RANGE); /* not applied: the sum would leave the 53-bit range */
        return;
      }
      c->accumulator += delta;
      c->digest += mcu_add_digest(seq, (int32_t)delta);
      c->stats.applied++;
      w_head(&w, 4, 2);
      w_int(&w, c->accumulator);
      w_head(&w, 0, c->stats.applied);
      break;
    }
    case MCU_M_STATS:
      w_head(&w, 4, 9);
      w_head(&w, 0, c->stats.frames_ok);
      w_head(&w, 0, c->stats.bad_cobs);
      w_head(&w, 0, c->stats.bad_crc);
      w_head(&w, 0, c->stats.bad_cbor);
      w_head(&w, 0, c->stats.oversize);
      w_head(&w, 0, c->stats.applied);
      w_head(&w, 0, c->stats.duplicates);
      w_int(&w, c->accumulator);
      w_head(&w, 0, c->digest);
      break;
    case MCU_M_TELEMETRY_RATE: {
      uint32_t period;
      if (!r_uint32(r, &period) || (period != 0 && period < 10)) {
        send_error(c, seq, method, MCU_E_BAD_BODY);
        return;
      }
      c->telemetry_period_ms = period;
      c->next_telemetry_ms = 0;
      w_head(&w, 0, period);
      break;
    }
    default:
      send_error(c, seq, method, MCU_E_UNKNOWN_METHOD);
      return;
  }
  if (w.err) {
    send_error(c, seq, method, MCU_E_TOO_LARGE);
    return;
  }
  if (!c->any_seen || (seq - c->max_seq_seen != 0u && seq - c->max_seq_seen < 0x80000000u)) c->max_seq_seen = seq;
  c->any_seen = 1;
  if (w.n <= MCU_RESPONSE_MAX) {
    slot->used = 1;
    slot->seq = seq;
    slot->len = (uint8_t)w.n;
    memcpy(slot->payload, buf, w.n);
  }
  send_payload(c, buf, w.n);
}

static void handle_frame(struct mcu_ctx *c, const uint8_t *enc, size_t len) {
  uint8_t frame[MCU_FRAME_MAX];
  long n = mcu_cobs_decode(enc, len, frame, sizeof frame);
  uint32_t crc, type, seq, ack, method;
  uint64_t count;
  struct cbor_r r;
  if (n < 0) {
    c->stats.bad_cobs++;
    return;
  }
  if (n < 5) {
    c->stats.bad_crc++;
    return;
  }
  crc = (uint32_t)frame[n - 4] | ((uint32_t)frame[n - 3] << 8) | ((uint32_t)frame[n - 2] << 16) | ((uint32_t)frame[n - 1] << 24);
  if (crc != mcu_crc32(frame, (size_t)n - 4)) {
    c->stats.bad_crc++;
    return;
  }
  r.p = frame;
  r.n = (size_t)n - 4;
  r.i = 0;
  r.err = 0;
  if (!r_array(&r, &count) || count != 5 || !r_uint32(&r, &type) || !r_uint32(&r, &seq) || !r_uint32(&r, &ack) || !r_uint32(&r, &method)) {
    c->stats.bad_cbor++;
    return;
  }
  /* Check the whole body is well-formed and nothing trails it before acting on any of it. The header
     read and the CRC held, so the host sent this: a HELLO or REQUEST is answered ERROR bad-body (a map,
     a float or a tag is outside the subset) rather than left to its retries until it times out. */
  {
    struct cbor_r probe = r;
    if (!r_skip(&probe, 0) || probe.i != probe.n) {
      c->stats.bad_cbor++;
      if (type == MCU_HELLO || type == MCU_REQUEST) send_error(c, seq, method, MCU_E_BAD_BODY);
      return;
    }
  }
  c->stats.frames_ok++;
  if (type == MCU_HELLO) handle_hello(c, seq, &r);
  else if (type == MCU_REQUEST) handle_request(c, seq, method, &r);
  /* Other types from the host are ignored: the host only sends HELLO and REQUEST. */
}

void mcu_init(struct mcu_ctx *c, mcu_write_fn write, void *user) {
  memset(c, 0, sizeof *c);
  c->write = write;
  c->user = user;
}

void mcu_rx_byte(struct mcu_ctx *c, uint8_t byte, uint32_t now_ms) {
  (void)now_ms;
  if (byte == 0) {
    if (c->rx_overflow) c->stats.oversize++;
    else if (c->rx_len > 0) handle_frame(c, c->rx, c->rx_len);
    c->rx_len = 0;
    c->rx_overflow = 0;
    return;
  }
  if (c->rx_len >= sizeof c->rx) {
    c->rx_overflow = 1; /* drop bytes until the next delimiter */
    return;
  }
  c->rx[c->rx_len++] = byte;
}

uint32_t mcu_poll(struct mcu_ctx *c, uint32_t now_ms) {
  uint8_t buf[64];
  struct cbor_w w;
  if (c->telemetry_period_ms == 0 || c->version == 0) return 0xffffffffu;
  if (c->next_telemetry_ms == 0) c->next_telemetry_ms = now_ms;
  if ((int32_t)(now_ms - c->next_telemetry_ms) >= 0) {
    begin(c, &w, buf, sizeof buf, MCU_TELEMETRY, 0, 1);
    w_head(&w, 4, 3);
    w_head(&w, 0, now_ms);
    w_head(&w, 0, ++c->telemetry_count);
    w_int(&w, c->accumulator);
    if (!w.err) send_payload(c, buf, w.n);
    c->next_telemetry_ms += c->telemetry_period_ms;
    if ((int32_t)(now_ms - c->next_telemetry_ms) > 0) c->next_telemetry_ms = now_ms + c->telemetry_period_ms;
  }
  return c->next_telemetry_ms - now_ms;
}
