/* pgtls mockserver: a memory transport so tests and the fuzzer run whole
 * sessions without sockets. TLS is not available over it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ms_conn.h"

static int mem_read_exact(ms_conn *c, void *buf, size_t n)
{
    ms_memio *m = c->io_ctx;
    if (m->in_len - m->in_off < n) {
        m->in_off = m->in_len;
        return 0;
    }
    memcpy(buf, m->in + m->in_off, n);
    m->in_off += n;
    c->ev.bytes_in += n;
    return 1;
}

static int mem_write_all(ms_conn *c, const void *buf, size_t n)
{
    ms_memio *m = c->io_ctx;
    ms_buf_put(&m->out, buf, n);
    c->ev.bytes_out += n;
    return m->out.oom ? -1 : 1;
}

static int mem_pending(ms_conn *c)
{
    ms_memio *m = c->io_ctx;
    size_t i;
    for (i = 0; i < m->num_breaks; i++)
        if (m->breaks[i] == m->in_off)
            return 0;
    return m->in_off < m->in_len;
}

static void mem_drain(ms_conn *c, size_t n)
{
    ms_memio *m = c->io_ctx;
    size_t left = m->in_len - m->in_off;
    m->in_off += n < left ? n : left;
}

static int mem_peek1(ms_conn *c, uint8_t *b)
{
    ms_memio *m = c->io_ctx;
    if (m->in_off >= m->in_len)
        return 0;
    *b = m->in[m->in_off];
    return 1;
}

static int mem_start_tls(ms_conn *c, int direct)
{
    (void)direct;
    ms_event_set_handshake(&c->ev, MS_HANDSHAKE_FAILED);
    snprintf(c->ev.tls_error, sizeof(c->ev.tls_error), "no TLS over the memory transport");
    ms_event_set_end(&c->ev, MS_END_PROTOCOL_ERROR, "no TLS over the memory transport");
    return -1;
}

static void mem_close_tls(ms_conn *c)
{
    (void)c;
}

const ms_io_ops ms_memory_io = {mem_read_exact, mem_write_all, mem_pending,  mem_drain,
                                mem_peek1,      mem_start_tls, mem_close_tls};

void ms_session_run_memory(ms_profile *prof, const uint8_t *in, size_t in_len, ms_memio *mio,
                           ms_event *out_ev)
{
    ms_conn *c = calloc(1, sizeof(*c));
    mio->in = in;
    mio->in_len = in_len;
    mio->in_off = 0;
    ms_buf_init(&mio->out);
    if (!c)
        return;
    c->io = &ms_memory_io;
    c->io_ctx = mio;
    c->prof = ms_profile_ref(prof);
    c->fd = -1;
    c->md5_salt = mio->md5_salt;
    c->stop_fd = -1;
    c->pid = 4242;
    c->cancel_key = 0x1234;
    ms_conn_init(c);
    ms_session_run(c);
    if (out_ev)
        *out_ev = c->ev;
    ms_conn_cleanup(c);
    free(c);
}
