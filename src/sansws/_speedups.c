/*
 * Compiled kernels for sansws.
 *
 * apply_mask(data, mask) -> bytes
 *     XOR data with the repeated 4-byte mask (RFC 6455 section 5.3). It
 *     computes exactly what sansws.frames._apply_mask_python computes; the
 *     tests run both and compare. The input is read through the buffer
 *     protocol, so a slice of the parser's buffer is unmasked straight into
 *     the new bytes object: one pass, one copy.
 *
 * apply_mask_pieces(pieces, mask) -> bytes
 *     The same for a payload that arrived in several reads: the pieces (any
 *     buffers) are unmasked straight into one new bytes object, the mask
 *     carrying on from one piece to the next. One pass over the payload,
 *     instead of gathering the reads first and unmasking the copy.
 *
 * check_utf8(pending, data) -> bytes
 *     Validate data as the continuation of UTF-8 text whose last bytes,
 *     pending, are an incomplete character (b"" if none), without decoding
 *     it; return the incomplete character at the end of data (b"" if
 *     none). Raise UnicodeDecodeError, with the reason CPython's decoder
 *     gives, at the first byte that no continuation can make valid: a
 *     surrogate's second byte included, which CPython's incremental
 *     decoder holds back. sansws.frames._check_utf8_python computes the
 *     same with that decoder. Used on large text payloads that arrive over
 *     several reads, which are decoded once when complete.
 *
 * encode_frame(first_byte, data, mask) -> bytes
 *     A whole frame in one new bytes object: the header with the shortest
 *     length form, then for a client frame (mask not None) the masking key
 *     and the payload masked with it, else the payload. The send path's
 *     kernel for small frames; sansws.frames._encode_frame_python computes
 *     the same.
 *
 * scan_frames(buffer, pos, masked, limit, events) -> int
 *     The parser's fast path (see sansws.protocol.Protocol._parse). From
 *     offset pos, take every complete frame that is a whole message by
 *     itself and needs no decision from the state machine: FIN set, RSV1-3
 *     clear, opcode Text or Binary, masked if and only if masked is true,
 *     minimal length encoding, a length of at most limit (no limit if
 *     negative), and for Text a payload of valid UTF-8. For each, append
 *     Frame(opcode, unmasked payload, text=decoded str or None) to events.
 *     Stop at the first frame that is anything else (incomplete, a control
 *     frame, a fragment, invalid, ...) and return its offset: the Python
 *     loop takes it from there, with every check and error report. Taking
 *     a frame here or in Python gives the same Frame; tests compare both.
 *     The Frame class and the two opcodes come from register_frame().
 *
 * The masking loop works on 8-byte words with the mask doubled to 8 bytes;
 * at -O2 and above GCC and Clang turn it into SIMD on x86-64 and AArch64,
 * which is as fast as hand-written intrinsics for this shape and stays
 * portable.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>

/* What scan_frames needs to build Frame objects, set by register_frame(). */
typedef struct {
    PyObject *frame_type;   /* sansws.frames.Frame, a class with __slots__ */
    PyObject *op_text;      /* Opcode.TEXT */
    PyObject *op_binary;    /* Opcode.BINARY */
    /* Byte offsets of the slots in a Frame instance. */
    Py_ssize_t off_opcode, off_data, off_fin, off_rsv1, off_rsv2, off_rsv3, off_text;
} speedups_state;

static inline speedups_state *
get_state(PyObject *module)
{
    return (speedups_state *)PyModule_GetState(module);
}

static void
mask_bytes(const unsigned char *src, unsigned char *dst, Py_ssize_t length,
           const unsigned char *mask)
{
    Py_ssize_t i = 0;
    uint64_t wide;
    unsigned char wide_bytes[8];

    memcpy(wide_bytes, mask, 4);
    memcpy(wide_bytes + 4, mask, 4);
    memcpy(&wide, wide_bytes, 8);

    if (length < 8) {
        /* Tiny payloads (chat messages, pings): skip the word loop set-up. */
        for (; i < length; i++) {
            dst[i] = src[i] ^ mask[i & 3];
        }
        return;
    }

    for (; i + 8 <= length; i += 8) {
        uint64_t word;
        memcpy(&word, src + i, 8);
        word ^= wide;
        memcpy(dst + i, &word, 8);
    }
    for (; i < length; i++) {
        dst[i] = src[i] ^ mask[i & 3];
    }
}

/* mask_bytes, with the GIL released for large payloads only: for small ones
 * the release costs more than the work. */
static void
mask_bytes_nogil(const unsigned char *src, unsigned char *dst, Py_ssize_t length,
                 const unsigned char *mask)
{
    if (length >= 65536) {
        Py_BEGIN_ALLOW_THREADS
        mask_bytes(src, dst, length, mask);
        Py_END_ALLOW_THREADS
    }
    else {
        mask_bytes(src, dst, length, mask);
    }
}

static PyObject *
apply_mask(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, mask;
    PyObject *result = NULL;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_mask() takes exactly 2 arguments");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&data);
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_SetString(PyExc_ValueError, "mask must contain 4 bytes");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, data.len);
    if (result == NULL) {
        goto done;
    }
    mask_bytes_nogil(data.buf, (unsigned char *)PyBytes_AS_STRING(result), data.len, mask.buf);

done:
    PyBuffer_Release(&mask);
    PyBuffer_Release(&data);
    return result;
}

static PyObject *
apply_mask_pieces(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer mask;
    PyObject *pieces, *result = NULL;
    Py_ssize_t count, i, total = 0, done = 0;
    unsigned char key[4], *dst;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "apply_mask_pieces() takes exactly 2 arguments");
        return NULL;
    }
    pieces = PySequence_Fast(args[0], "pieces must be a sequence");
    if (pieces == NULL) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &mask, PyBUF_SIMPLE) < 0) {
        Py_DECREF(pieces);
        return NULL;
    }
    if (mask.len != 4) {
        PyErr_SetString(PyExc_ValueError, "mask must contain 4 bytes");
        goto done;
    }
    count = PySequence_Fast_GET_SIZE(pieces);
    for (i = 0; i < count; i++) {
        Py_buffer piece;
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(pieces, i), &piece, PyBUF_SIMPLE) < 0) {
            goto done;
        }
        total += piece.len;
        PyBuffer_Release(&piece);
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL) {
        goto done;
    }
    dst = (unsigned char *)PyBytes_AS_STRING(result);
    for (i = 0; i < count; i++) {
        Py_buffer piece;
        Py_ssize_t length;
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(pieces, i), &piece, PyBUF_SIMPLE) < 0) {
            Py_CLEAR(result);
            goto done;
        }
        /* A piece could have been resized since the first pass. */
        length = piece.len < total - done ? piece.len : total - done;
        for (int k = 0; k < 4; k++) {
            key[k] = ((const unsigned char *)mask.buf)[(done + k) & 3];
        }
        mask_bytes_nogil(piece.buf, dst + done, length, key);
        done += length;
        PyBuffer_Release(&piece);
    }
    if (done != total) {
        Py_CLEAR(result);
        PyErr_SetString(PyExc_RuntimeError, "pieces changed size while unmasking");
    }

done:
    PyBuffer_Release(&mask);
    Py_DECREF(pieces);
    return result;
}

static PyObject *
encode_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer data, mask;
    PyObject *result = NULL;
    long first;
    int masked;
    Py_ssize_t header;
    unsigned char *out;

    (void)module;
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "encode_frame() takes exactly 3 arguments");
        return NULL;
    }
    first = PyLong_AsLong(args[0]);
    if (first == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (first < 0 || first > 255) {
        PyErr_SetString(PyExc_ValueError, "first_byte must be in range(256)");
        return NULL;
    }
    masked = args[2] != Py_None;
    if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (masked) {
        if (PyObject_GetBuffer(args[2], &mask, PyBUF_SIMPLE) < 0) {
            PyBuffer_Release(&data);
            return NULL;
        }
        if (mask.len != 4) {
            PyErr_SetString(PyExc_ValueError, "mask must contain 4 bytes");
            goto done;
        }
    }
    header = data.len < 126 ? 2 : data.len < 0x10000 ? 4 : 10;
    result = PyBytes_FromStringAndSize(NULL, header + (masked ? 4 : 0) + data.len);
    if (result == NULL) {
        goto done;
    }
    out = (unsigned char *)PyBytes_AS_STRING(result);
    out[0] = (unsigned char)first;
    if (header == 2) {
        out[1] = (unsigned char)data.len;
    }
    else if (header == 4) {
        out[1] = 126;
        out[2] = (unsigned char)(data.len >> 8);
        out[3] = (unsigned char)data.len;
    }
    else {
        uint64_t length = (uint64_t)data.len;
        out[1] = 127;
        for (int k = 9; k >= 2; k--) {
            out[k] = (unsigned char)length;
            length >>= 8;
        }
    }
    if (masked) {
        out[1] |= 0x80;
        memcpy(out + header, mask.buf, 4);
        mask_bytes_nogil(data.buf, out + header + 4, data.len, mask.buf);
    }
    else {
        memcpy(out + header, data.buf, data.len);
    }

done:
    if (masked) {
        PyBuffer_Release(&mask);
    }
    PyBuffer_Release(&data);
    return result;
}

/* Raise UnicodeDecodeError as CPython's UTF-8 decoder would at data[end]. */
static void
utf8_error(const unsigned char *data, Py_ssize_t length, Py_ssize_t start, Py_ssize_t end,
           int start_byte)
{
    PyObject *exc = PyUnicodeDecodeError_Create(
        "utf-8", (const char *)data, length, start, end + 1,
        start_byte ? "invalid start byte" : "invalid continuation byte");
    if (exc != NULL) {
        PyErr_SetObject(PyExc_UnicodeDecodeError, exc);
        Py_DECREF(exc);
    }
}

static PyObject *
check_utf8(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer pending, data;
    unsigned char seq[4];
    int need = 0, seqlen = 0;
    unsigned int lo = 0x80, hi = 0xBF;
    PyObject *result = NULL;

    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "check_utf8() takes exactly 2 arguments");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &pending, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &data, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&pending);
        return NULL;
    }
    if (pending.len > 3) {
        PyErr_SetString(PyExc_ValueError, "pending must hold at most 3 bytes");
        goto done;
    }
    /* The pending bytes, then the data, through the grammar of RFC 3629
     * section 4: one pass, 8 bytes at a time through ASCII. */
    for (int part = 0; part < 2; part++) {
        const unsigned char *s = part ? data.buf : pending.buf;
        Py_ssize_t n = part ? data.len : pending.len, i = 0;
        while (i < n) {
            unsigned int b;
            if (need == 0) {
                while (i + 8 <= n) {
                    uint64_t word;
                    memcpy(&word, s + i, 8);
                    if (word & 0x8080808080808080ULL) {
                        break;
                    }
                    i += 8;
                }
                if (i == n) {
                    break;
                }
                b = s[i];
                if (b < 0x80) {
                    i++;
                    continue;
                }
                lo = 0x80;
                hi = 0xBF;
                if (b >= 0xC2 && b <= 0xDF) {
                    need = 1;
                }
                else if (b >= 0xE0 && b <= 0xEF) {
                    need = 2;
                    if (b == 0xE0) {
                        lo = 0xA0;
                    }
                    else if (b == 0xED) {
                        hi = 0x9F;
                    }
                }
                else if (b >= 0xF0 && b <= 0xF4) {
                    need = 3;
                    if (b == 0xF0) {
                        lo = 0x90;
                    }
                    else if (b == 0xF4) {
                        hi = 0x8F;
                    }
                }
                else {
                    if (part) {
                        utf8_error(data.buf, data.len, i, i, 1);
                    }
                    else {
                        PyErr_SetString(PyExc_ValueError, "pending is not a valid prefix");
                    }
                    goto done;
                }
                seq[0] = (unsigned char)b;
                seqlen = 1;
            }
            else {
                b = s[i];
                if (b < lo || b > hi) {
                    if (part) {
                        /* The sequence may have started in pending. */
                        Py_ssize_t start = i >= seqlen ? i - seqlen : 0;
                        utf8_error(data.buf, data.len, start, i, 0);
                    }
                    else {
                        PyErr_SetString(PyExc_ValueError, "pending is not a valid prefix");
                    }
                    goto done;
                }
                seq[seqlen++] = (unsigned char)b;
                need--;
                lo = 0x80;
                hi = 0xBF;
            }
            i++;
        }
    }
    result = PyBytes_FromStringAndSize((const char *)seq, need ? seqlen : 0);

done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&pending);
    return result;
}

/* The byte offset of the slot `name` of `type`, or -1 with an exception. */
static Py_ssize_t
slot_offset(PyObject *type, const char *name)
{
    PyObject *descr = PyObject_GetAttrString(type, name);
    Py_ssize_t offset = -1;

    if (descr == NULL) {
        return -1;
    }
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type)
        && ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX
        && !(((PyMemberDescrObject *)descr)->d_member->flags & READONLY)) {
        offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    }
    else {
        PyErr_Format(PyExc_TypeError, "%s is not a writable slot", name);
    }
    Py_DECREF(descr);
    return offset;
}

static PyObject *
register_frame(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    speedups_state *state = get_state(module);
    speedups_state fresh;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "register_frame() takes exactly 3 arguments");
        return NULL;
    }
    if (!PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "register_frame() needs the Frame class");
        return NULL;
    }
    if (((PyTypeObject *)args[0])->tp_dictoffset != 0) {
        PyErr_SetString(PyExc_TypeError, "Frame must have __slots__ and no __dict__");
        return NULL;
    }
#define OFFSET(field)                                              \
    fresh.off_##field = slot_offset(args[0], #field);              \
    if (fresh.off_##field < 0) {                                   \
        return NULL;                                               \
    }
    OFFSET(opcode) OFFSET(data) OFFSET(fin) OFFSET(rsv1) OFFSET(rsv2) OFFSET(rsv3) OFFSET(text)
#undef OFFSET
    Py_CLEAR(state->frame_type);
    Py_CLEAR(state->op_text);
    Py_CLEAR(state->op_binary);
    fresh.frame_type = Py_NewRef(args[0]);
    fresh.op_text = Py_NewRef(args[1]);
    fresh.op_binary = Py_NewRef(args[2]);
    *state = fresh;
    Py_RETURN_NONE;
}

static inline void
set_slot(PyObject *obj, Py_ssize_t offset, PyObject *value)
{
    /* The object is fresh from tp_alloc: every slot is NULL. */
    *(PyObject **)((char *)obj + offset) = value;
}

static PyObject *
scan_frames(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    speedups_state *state = get_state(module);
    PyTypeObject *frame_type;
    Py_buffer view;
    Py_ssize_t pos, size, limit;
    int masked;
    PyObject *events;
    const unsigned char *buf;

    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "scan_frames() takes exactly 5 arguments");
        return NULL;
    }
    if (state->frame_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "register_frame() was not called");
        return NULL;
    }
    frame_type = (PyTypeObject *)state->frame_type;
    pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    masked = PyObject_IsTrue(args[2]);
    if (masked < 0) {
        return NULL;
    }
    limit = PyLong_AsSsize_t(args[3]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    events = args[4];
    if (!PyList_Check(events)) {
        PyErr_SetString(PyExc_TypeError, "events must be a list");
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    buf = view.buf;
    size = view.len;
    if (pos < 0 || pos > size) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pos out of range");
        return NULL;
    }

    while (size - pos >= 2) {
        unsigned int first = buf[pos], second = buf[pos + 1];
        uint64_t length = second & 0x7F;
        Py_ssize_t header = 2;
        PyObject *payload, *text = NULL, *frame;

        /* FIN set, RSV1-3 clear, Text or Binary; masking as expected. */
        if ((first != 0x81 && first != 0x82) || ((second & 0x80) != 0) != masked) {
            break;
        }
        if (length == 126) {
            if (size - pos < 4) {
                break;
            }
            length = (uint64_t)buf[pos + 2] << 8 | buf[pos + 3];
            if (length < 126) {
                break;
            }
            header = 4;
        }
        else if (length == 127) {
            if (size - pos < 10) {
                break;
            }
            length = 0;
            for (int k = 2; k < 10; k++) {
                length = length << 8 | buf[pos + k];
            }
            if (length >> 63 || length < 0x10000) {
                break;
            }
            header = 10;
        }
        if (masked) {
            header += 4;
        }
        if ((limit >= 0 && length > (uint64_t)limit) || size - pos < header
            || (uint64_t)(size - pos - header) < length) {
            break;
        }
        if (masked) {
            payload = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)length);
            if (payload == NULL) {
                goto error;
            }
            mask_bytes_nogil(buf + pos + header, (unsigned char *)PyBytes_AS_STRING(payload),
                             (Py_ssize_t)length, buf + pos + header - 4);
        }
        else {
            payload = PyBytes_FromStringAndSize((const char *)buf + pos + header,
                                                (Py_ssize_t)length);
            if (payload == NULL) {
                goto error;
            }
        }
        if (first == 0x81) {
            text = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(payload), (Py_ssize_t)length, NULL);
            if (text == NULL) {
                Py_DECREF(payload);
                if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    /* Python fails the connection with the right close code. */
                    PyErr_Clear();
                    break;
                }
                goto error;
            }
        }
        frame = frame_type->tp_alloc(frame_type, 0);
        if (frame == NULL) {
            Py_DECREF(payload);
            Py_XDECREF(text);
            goto error;
        }
        set_slot(frame, state->off_opcode,
                 Py_NewRef(first == 0x81 ? state->op_text : state->op_binary));
        set_slot(frame, state->off_data, payload);
        set_slot(frame, state->off_fin, Py_NewRef(Py_True));
        set_slot(frame, state->off_rsv1, Py_NewRef(Py_False));
        set_slot(frame, state->off_rsv2, Py_NewRef(Py_False));
        set_slot(frame, state->off_rsv3, Py_NewRef(Py_False));
        set_slot(frame, state->off_text, text == NULL ? Py_NewRef(Py_None) : text);
        if (PyList_Append(events, frame) < 0) {
            Py_DECREF(frame);
            goto error;
        }
        Py_DECREF(frame);
        pos += header + (Py_ssize_t)length;
    }
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(pos);

error:
    PyBuffer_Release(&view);
    return NULL;
}

static int
speedups_traverse(PyObject *module, visitproc visit, void *arg)
{
    speedups_state *state = get_state(module);
    Py_VISIT(state->frame_type);
    Py_VISIT(state->op_text);
    Py_VISIT(state->op_binary);
    return 0;
}

static int
speedups_clear(PyObject *module)
{
    speedups_state *state = get_state(module);
    Py_CLEAR(state->frame_type);
    Py_CLEAR(state->op_text);
    Py_CLEAR(state->op_binary);
    return 0;
}

static void
speedups_free(void *module)
{
    speedups_clear((PyObject *)module);
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     "apply_mask(data, mask) -> bytes\n\nXOR data with the repeated 4-byte mask "
     "(RFC 6455 section 5.3)."},
    {"apply_mask_pieces", (PyCFunction)(void (*)(void))apply_mask_pieces, METH_FASTCALL,
     "apply_mask_pieces(pieces, mask) -> bytes\n\nUnmask the concatenation of pieces into "
     "one new bytes object, in one pass."},
    {"check_utf8", (PyCFunction)(void (*)(void))check_utf8, METH_FASTCALL,
     "check_utf8(pending, data) -> bytes\n\nValidate data as UTF-8 after the incomplete "
     "sequence pending; return the incomplete sequence at its end."},
    {"encode_frame", (PyCFunction)(void (*)(void))encode_frame, METH_FASTCALL,
     "encode_frame(first_byte, data, mask) -> bytes\n\nEncode a whole frame: header, "
     "masking key if mask is not None, payload masked with it."},
    {"register_frame", (PyCFunction)(void (*)(void))register_frame, METH_FASTCALL,
     "register_frame(frame_class, op_text, op_binary) -> None\n\nTell scan_frames what to "
     "build."},
    {"scan_frames", (PyCFunction)(void (*)(void))scan_frames, METH_FASTCALL,
     "scan_frames(buffer, pos, masked, limit, events) -> int\n\nAppend every complete "
     "single-frame Text or Binary message from pos to events; return where it stopped."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef_Slot speedups_slots[] = {
#ifdef Py_mod_multiple_interpreters
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_mod_gil
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    "sansws._speedups",
    "Compiled kernels for sansws; sansws.frames holds the pure-Python equivalents.",
    sizeof(speedups_state),
    speedups_methods,
    speedups_slots,
    speedups_traverse,
    speedups_clear,
    speedups_free,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
