# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""C accelerator for the EDIFACT and X12 batch paths (optional; see ``adapters/edi/segments.py``).

The pure-Python codec already splits a whole buffer of segments with ``bytes.split``; what is
left per segment is building Python objects (the Segment, its element and component lists,
the strings) and the interpreter's loop around it. :class:`SegmentBatch` does exactly that
loop in C for a batch the Python side has already *validated* (``_fast_region`` in
``edifact.py`` / ``x12.py``: one segment per line or none, no wraps, no released terminator)
and appends message content straight into the open message's segment list. Segments with
non-ASCII bytes or a repetition separator are handed back to a Python callback
(``special``), so the rare cases keep their one implementation. ``batch_end`` and
``region_shape`` are the Python ``_batch_end`` / ``_region_shape`` checks in a few memchr
passes. Both paths must give the same segments, lines, indices and errors:
tests/adapters/edi/test_speedups.py compares them on hostile, mutated and real files.

Build in place: ``.venv/bin/python adapters/edi/build_speedups.py``.
"""
from cpython.list cimport PyList_New, PyList_SET_ITEM, PyList_Append
from cpython.ref cimport Py_INCREF
from cpython.set cimport PySet_Contains
from cpython.bytes cimport PyBytes_FromStringAndSize
from libc.string cimport memchr, memcmp

#: the calling convention the .py side expects; a stale build with another one is not used
ABI = 1

cdef extern from *:
    """
    #include <string.h>
    #include "structmember.h"

    /* Short strings repeat all the time in EDI (tags, qualifiers, units: "QTY", "12", "PCE"):
       a small direct-mapped cache of strings of 1..3 ASCII bytes saves an allocation each.
       Sharing str objects is invisible to Python code (str is immutable). */
    #define HUB_CACHE_BITS 11
    static PyObject *hub_cache_obj[1 << HUB_CACHE_BITS];
    static unsigned int hub_cache_key[1 << HUB_CACHE_BITS];

    static PyObject *hub_ascii(const unsigned char *p, Py_ssize_t n) {
        PyObject *s;
        if (n <= 3) {
            unsigned int key, slot;
            if (n == 0) return PyUnicode_New(0, 0);
            key = (unsigned int)n | ((unsigned int)p[0] << 8)
                  | (n > 1 ? (unsigned int)p[1] << 16 : 0u) | (n > 2 ? (unsigned int)p[2] << 24 : 0u);
            slot = (key * 2654435761u) >> (32 - HUB_CACHE_BITS);
            s = hub_cache_obj[slot];
            if (s != NULL && hub_cache_key[slot] == key) {
                Py_INCREF(s);
                return s;
            }
            s = PyUnicode_New(n, 127);
            if (s == NULL) return NULL;
            memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)n);
            Py_XDECREF(hub_cache_obj[slot]);
            Py_INCREF(s);
            hub_cache_obj[slot] = s;
            hub_cache_key[slot] = key;
            return s;
        }
        s = PyUnicode_New(n, 127);
        if (s == NULL) return NULL;
        memcpy(PyUnicode_1BYTE_DATA(s), p, (size_t)n);
        return s;
    }

    /* The lists built here hold only str (or such lists) and nothing ever puts anything
       else in them, so they can never be part of a reference cycle: they are untracked, so
       that the cyclic GC, which runs every few hundred allocations, does not walk hundreds
       of thousands of segments for nothing (measured: a quarter of the parse time). */
    static PyObject *hub_list(Py_ssize_t n) {
        PyObject *list = PyList_New(n);
        if (list != NULL) PyObject_GC_UnTrack(list);
        return list;
    }

    /* The components of p[a:b] split on comp, as a new list of str. */
    static PyObject *hub_components(const unsigned char *p, Py_ssize_t a, Py_ssize_t b, unsigned char comp) {
        Py_ssize_t k, n = 1, i = 0, start = a;
        PyObject *list, *s;
        for (k = a; k < b; k++) n += (p[k] == comp);
        list = hub_list(n);
        if (list == NULL) return NULL;
        for (k = a; k <= b; k++) {
            if (k == b || p[k] == comp) {
                s = hub_ascii(p + start, k - start);
                if (s == NULL) { Py_DECREF(list); return NULL; }
                PyList_SET_ITEM(list, i, s);
                i++;
                start = k + 1;
            }
        }
        return list;
    }

    /* A segment with release characters (and no repetition separator), split exactly like
       edifact._split_slow: a release makes the next byte literal, a release at the very end
       is dropped. Returns the list of every element (the tag's first), each a list of
       components. */
    static PyObject *hub_split_released(const unsigned char *p, Py_ssize_t a, Py_ssize_t b,
                                        unsigned char el, unsigned char comp, unsigned char rel) {
        unsigned char *buf;
        Py_ssize_t i, o = 0, cs = 0;
        PyObject *parts = NULL, *comps = NULL, *s;
        buf = (unsigned char *)PyMem_Malloc((size_t)(b - a) + 1);
        if (buf == NULL) return PyErr_NoMemory();
        parts = hub_list(0);
        comps = hub_list(0);
        if (parts == NULL || comps == NULL) goto fail;
        for (i = a; i < b; i++) {
            unsigned char c = p[i];
            if (c == rel) {
                if (i + 1 < b) buf[o++] = p[++i];
                continue;
            }
            if (c != comp && c != el) {
                buf[o++] = c;
                continue;
            }
            s = hub_ascii(buf + cs, o - cs);
            if (s == NULL || PyList_Append(comps, s) < 0) { Py_XDECREF(s); goto fail; }
            Py_DECREF(s);
            cs = o;
            if (c == el) {
                if (PyList_Append(parts, comps) < 0) goto fail;
                Py_DECREF(comps);
                comps = hub_list(0);
                if (comps == NULL) goto fail;
            }
        }
        s = hub_ascii(buf + cs, o - cs);
        if (s == NULL || PyList_Append(comps, s) < 0) { Py_XDECREF(s); goto fail; }
        Py_DECREF(s);
        if (PyList_Append(parts, comps) < 0) goto fail;
        Py_DECREF(comps);
        PyMem_Free(buf);
        return parts;
    fail:
        PyMem_Free(buf);
        Py_XDECREF(parts);
        Py_XDECREF(comps);
        return NULL;
    }

    /* Segment construction: a slotted dataclass whose four fields are written at their
       slot offsets, which is what its member descriptors do, minus the lookups. The layout
       is checked once by hub_use_segment_type. */
    static PyTypeObject *hub_seg_type = NULL;
    static Py_ssize_t hub_seg_off[4];

    static int hub_use_segment_type(PyObject *cls, PyObject *names) {
        PyTypeObject *tp;
        Py_ssize_t i, off[4];
        if (!PyType_Check(cls) || !PyTuple_Check(names) || PyTuple_GET_SIZE(names) != 4) {
            PyErr_SetString(PyExc_TypeError, "use_segment_type(cls, four field names)");
            return -1;
        }
        tp = (PyTypeObject *)cls;
        if (tp->tp_itemsize != 0 || tp->tp_dictoffset != 0 || tp->tp_new != PyBaseObject_Type.tp_new
                || tp->tp_alloc != PyType_GenericAlloc || tp->tp_dict == NULL) {
            PyErr_SetString(PyExc_TypeError, "the segment type must be a plain slotted class");
            return -1;
        }
        for (i = 0; i < 4; i++) {
            PyObject *d = PyDict_GetItemWithError(tp->tp_dict, PyTuple_GET_ITEM(names, i));
            PyMemberDef *m;
            if (d == NULL || Py_TYPE(d) != &PyMemberDescr_Type) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "the segment type's fields must be slots");
                return -1;
            }
            m = ((PyMemberDescrObject *)d)->d_member;
            if (m->type != T_OBJECT_EX || (m->flags & READONLY) || m->offset < (Py_ssize_t)sizeof(PyObject)
                    || m->offset + (Py_ssize_t)sizeof(PyObject *) > tp->tp_basicsize) {
                PyErr_SetString(PyExc_TypeError, "the segment type's fields must be plain object slots");
                return -1;
            }
            off[i] = m->offset;
        }
        Py_INCREF(cls);
        Py_XDECREF((PyObject *)hub_seg_type);
        hub_seg_type = tp;
        memcpy(hub_seg_off, off, sizeof off);
        return 0;
    }

    /* A new segment; steals nothing (tag and elements are borrowed). */
    static PyObject *hub_segment(PyObject *tag, PyObject *elements, Py_ssize_t line, Py_ssize_t index) {
        PyTypeObject *tp = hub_seg_type;
        PyObject *obj, *ln, *ix;
        if (tp == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "use_segment_type() was not called");
            return NULL;
        }
        ln = PyLong_FromSsize_t(line);
        ix = PyLong_FromSsize_t(index);
        obj = (ln != NULL && ix != NULL) ? tp->tp_alloc(tp, 0) : NULL;
        if (obj == NULL) { Py_XDECREF(ln); Py_XDECREF(ix); return NULL; }
        Py_INCREF(tag);
        Py_INCREF(elements);
        *(PyObject **)((char *)obj + hub_seg_off[0]) = tag;
        *(PyObject **)((char *)obj + hub_seg_off[1]) = elements;
        *(PyObject **)((char *)obj + hub_seg_off[2]) = ln;
        *(PyObject **)((char *)obj + hub_seg_off[3]) = ix;
        if (PyType_IS_GC(tp)) PyObject_GC_UnTrack(obj);  /* holds str, untracked lists, ints */
        return obj;
    }

    /* ---- batch boundaries and shape (edifact/x12 _batch_end and _region_shape) ---- */

    /* last index of c in p[start:stop], or -1 (bytes.rfind) */
    static Py_ssize_t hub_rfind(const unsigned char *p, Py_ssize_t start, Py_ssize_t stop, unsigned char c) {
        Py_ssize_t i;
        for (i = stop - 1; i >= start; i--)
            if (p[i] == c) return i;
        return -1;
    }

    /* first index of c in p[start:stop], or -1 (bytes.find) */
    static Py_ssize_t hub_find(const unsigned char *p, Py_ssize_t start, Py_ssize_t stop, unsigned char c) {
        const unsigned char *q;
        if (start >= stop) return -1;
        q = (const unsigned char *)memchr(p + start, c, (size_t)(stop - start));
        return q == NULL ? -1 : q - p;
    }

    /* Where a batch starting at pos must end (the index of its last terminator), or -1:
       the last terminator in the buffer, but not past the first UNZ/IEA segment, and before
       a UNB/UNA/ISA (the next interchange may use other delimiters). The markers are found
       like bytes.find would (anywhere, even inside data: that only ends a batch early), in
       one pass instead of one scan per marker. */
    static Py_ssize_t hub_batch_end(const unsigned char *p, Py_ssize_t pos, Py_ssize_t len,
                                    unsigned char term, int x12) {
        Py_ssize_t end, i, k_close = -1, k_open1 = -1, k_open2 = -1;
        const unsigned char *q;
        unsigned char first = x12 ? 'I' : 'U';
        end = hub_rfind(p, pos, len, term);
        if (end <= pos) return -1;
        for (i = pos; i + 3 <= end; i++) {
            q = (const unsigned char *)memchr(p + i, first, (size_t)(end - 2 - i));
            if (q == NULL) break;
            i = q - p;
            if (x12) {
                if (p[i + 1] == 'E' && p[i + 2] == 'A') { if (k_close < 0) k_close = i; }
                else if (p[i + 1] == 'S' && p[i + 2] == 'A') { if (k_open1 < 0) k_open1 = i; }
                if (k_close >= 0 && k_open1 >= 0) break;
            } else if (p[i + 1] == 'N') {
                if (p[i + 2] == 'Z') { if (k_close < 0) k_close = i; }
                else if (p[i + 2] == 'B') { if (k_open1 < 0) k_open1 = i; }
                else if (p[i + 2] == 'A') { if (k_open2 < 0) k_open2 = i; }
                if (k_close >= 0 && k_open1 >= 0 && k_open2 >= 0) break;
            }
        }
        /* the same sequence as the Python code: each later search sees the shortened range,
           and the first occurrence overall is the first one in any prefix it fits in */
        if (k_close >= 0) end = hub_find(p, k_close, end + 1, term);
        if (k_open1 >= 0 && k_open1 + 3 <= end) {
            end = hub_rfind(p, pos, k_open1, term);
            if (end <= pos) return -1;
        }
        if (k_open2 >= 0 && k_open2 + 3 <= end) {
            end = hub_rfind(p, pos, k_open2, term);
            if (end <= pos) return -1;
        }
        return end;
    }

    static int hub_is_ascii(const unsigned char *p, Py_ssize_t n) {
        Py_ssize_t i = 0;
        unsigned long long w, acc = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&w, p + i, 8);
            acc |= w;
        }
        for (; i < n; i++) acc |= p[i];
        return (acc & 0x8080808080808080ULL) == 0;
    }

    typedef struct {
        Py_ssize_t nl, cr, crlf, n_term, term_nl, term_crlf;
        int term_blank, term_term, nl_blank, rel_bad, ascii;
    } hub_shape;

    /* The counts _region_shape takes with bytes.count / `in`, over body = p[lead:n]
       (release checks over the whole region, as the Python code does); memchr passes. */
    static void hub_scan(const unsigned char *p, Py_ssize_t lead, Py_ssize_t n, unsigned char term,
                         int rel, hub_shape *s) {
        const unsigned char *q;
        Py_ssize_t i;
        memset(s, 0, sizeof *s);
        s->ascii = hub_is_ascii(p + lead, n - lead);
        for (i = lead; i < n; i++) {
            q = (const unsigned char *)memchr(p + i, 10, (size_t)(n - i));
            if (q == NULL) break;
            i = q - p;
            s->nl++;
            if (i + 1 < n && (p[i + 1] == 32 || p[i + 1] == 9)) s->nl_blank = 1;
            if (i - 1 >= lead && p[i - 1] == term) s->term_nl++;
            if (i - 1 >= lead && p[i - 1] == 13) {
                s->crlf++;
                if (i - 2 >= lead && p[i - 2] == term) s->term_crlf++;
            }
        }
        for (i = lead; i < n; i++) {
            q = (const unsigned char *)memchr(p + i, 13, (size_t)(n - i));
            if (q == NULL) break;
            i = q - p;
            s->cr++;
        }
        for (i = lead; i < n; i++) {
            q = (const unsigned char *)memchr(p + i, term, (size_t)(n - i));
            if (q == NULL) break;
            i = q - p;
            s->n_term++;
            if (i + 1 < n) {
                if (p[i + 1] == 32 || p[i + 1] == 9) s->term_blank = 1;
                if (p[i + 1] == term) s->term_term = 1;
            }
        }
        if (rel >= 0) {
            for (i = 0; i < n; i++) {
                q = (const unsigned char *)memchr(p + i, rel, (size_t)(n - i));
                if (q == NULL) break;
                i = q - p;
                if (i + 1 == n || p[i + 1] == term || p[i + 1] == 10 || p[i + 1] == 13) {
                    s->rel_bad = 1;
                    break;
                }
            }
        }
    }
    """
    object hub_ascii(const unsigned char *p, Py_ssize_t n)
    object hub_list(Py_ssize_t n)
    object hub_components(const unsigned char *p, Py_ssize_t a, Py_ssize_t b, unsigned char comp)
    object hub_split_released(const unsigned char *p, Py_ssize_t a, Py_ssize_t b, unsigned char el,
                              unsigned char comp, unsigned char rel)
    int hub_use_segment_type(object cls, object names) except -1
    object hub_segment(object tag, object elements, Py_ssize_t line, Py_ssize_t index)
    void PyObject_GC_UnTrack(void *op)
    ctypedef struct hub_shape:
        Py_ssize_t nl, cr, crlf, n_term, term_nl, term_crlf
        int term_blank, term_term, nl_blank, rel_bad, ascii
    Py_ssize_t hub_batch_end(const unsigned char *p, Py_ssize_t pos, Py_ssize_t len, unsigned char term, int x12)
    void hub_scan(const unsigned char *p, Py_ssize_t lead, Py_ssize_t n, unsigned char term, int rel, hub_shape *s)


def use_segment_type(cls, tuple names):
    """Build ``cls`` instances (a slotted class whose slots ``names`` are tag, elements,
    line, index); raises TypeError if its layout is not that."""
    hub_use_segment_type(cls, names)


cdef inline bint _x12_tag_ok(const unsigned char *p, Py_ssize_t a, Py_ssize_t b) noexcept:
    """The X12 tag rule of x12._TAG_RE (``[A-Z][A-Z0-9]{1,2}\\Z``) on p[a:b]."""
    cdef Py_ssize_t n = b - a, k
    cdef unsigned char c
    if n < 2 or n > 3 or not (65 <= p[a] <= 90):
        return False
    for k in range(a + 1, b):
        c = p[k]
        if not ((65 <= c <= 90) or (48 <= c <= 57)):
            return False
    return True


cdef class SegmentBatch:
    """The segments of one validated batch: ``body.split(separator)``, each split into
    elements and components and built as the type given to :func:`use_segment_type`.

    ``fill(sink)`` appends every message-content segment to the list ``sink`` and returns
    the first segment the caller has to look at itself (a tag in ``keep``; any segment when
    ``sink`` is None, i.e. outside a message; in X12 mode a segment whose tag is not a valid
    X12 tag, or one built by ``special``), or None when the batch is used up. ``index`` and
    ``line`` move on per segment exactly as the Python loops count them; ``last`` is the last
    segment read.

    Segments containing a byte >= 0x80 or the repetition character are built by
    ``special(raw_bytes, line, index)`` (the Python implementation) instead; release
    characters are handled here, exactly as ``edifact._split`` does.
    """

    cdef bytes _body
    cdef const unsigned char *_p
    cdef Py_ssize_t _n, _pos, _tail_len
    cdef bytes _tail
    cdef const unsigned char *_tail_p
    cdef bint _done, _x12
    cdef unsigned char _term, _el, _comp
    cdef int _rel, _rep
    cdef object _special, _keep
    cdef readonly Py_ssize_t line, step, index
    cdef readonly object last

    def __cinit__(self, bytes body not None, bytes separator not None, int element, int component,
                  int release, int repetition, bint x12, Py_ssize_t line, Py_ssize_t step,
                  Py_ssize_t index, special, frozenset keep not None):
        if len(separator) < 1 or len(separator) > 3:
            raise ValueError("separator must be the terminator and at most 2 line-end bytes")
        # the splitting below builds str from raw bytes as ASCII: delimiters must be ASCII
        if not (0 <= element < 128 and 0 <= component < 128 and -1 <= release < 128 and -1 <= repetition < 128
                and separator[0] < 128):
            raise ValueError("the accelerator takes ASCII delimiters only")
        self._body = body
        self._p = <const unsigned char *>(<char *>body)
        self._n = len(body)
        self._pos = 0
        self._done = False
        self._term = <unsigned char>separator[0]
        self._tail = separator[1:]
        self._tail_p = <const unsigned char *>(<char *>self._tail)
        self._tail_len = len(self._tail)
        self._el = <unsigned char>element
        self._comp = <unsigned char>component
        self._rel = release  # -1: none
        self._rep = repetition  # -1: none
        self._x12 = x12
        self.line = line
        self.step = step
        self.index = index
        self._special = special
        self._keep = keep
        self.last = None

    cdef Py_ssize_t _next_end(self) noexcept:
        """End of the piece starting at _pos (bytes.split semantics), advancing _pos; the
        last piece ends at the end of the body."""
        cdef const unsigned char *p = self._p
        cdef Py_ssize_t s = self._pos, n = self._n, i
        cdef const void *q
        while True:
            q = memchr(p + s, self._term, <size_t>(n - s)) if s < n else NULL
            if q == NULL:
                self._done = True
                self._pos = n
                return n
            i = <const unsigned char *>q - p
            if self._tail_len == 0 or (i + 1 + self._tail_len <= n
                                       and memcmp(p + i + 1, self._tail_p, <size_t>self._tail_len) == 0):
                self._pos = i + 1 + self._tail_len
                return i
            s = i + 1

    def fill(self, list sink):
        cdef const unsigned char *p = self._p
        cdef Py_ssize_t a, b, k, t, nel, j, s
        cdef unsigned char c, el = self._el, comp = self._comp
        cdef int rel = self._rel, rep = self._rep
        cdef bint special, released, visible
        cdef object seg, tag, elements, comps, parts
        while not self._done:
            a = self._pos
            b = self._next_end()
            self.index += 1
            special = released = False
            nel = 0
            for k in range(a, b):
                c = p[k]
                if c >= 128 or c == rep:
                    special = True
                    break
                released |= (c == rel)
                nel += (c == el)
            if special:
                seg = self._special(PyBytes_FromStringAndSize(<const char *>p + a, b - a), self.line, self.index)
                visible = self._x12 or sink is None or PySet_Contains(self._keep, seg.tag)
            elif released:  # EDIFACT only: X12 has no release character
                parts = hub_split_released(p, a, b, el, comp, <unsigned char>rel)
                tag = parts[0][0]
                elements = parts[1:]
                PyObject_GC_UnTrack(<void *>elements)
                seg = hub_segment(tag, elements, self.line, self.index)
                visible = sink is None or PySet_Contains(self._keep, tag)
            else:
                t = a
                while t < b and p[t] != el:
                    t += 1
                if self._x12:
                    tag = hub_ascii(p + a, t - a)
                    visible = sink is None or not _x12_tag_ok(p, a, t)
                else:
                    k = a
                    while k < t and p[k] != comp:
                        k += 1
                    tag = hub_ascii(p + a, k - a)
                    visible = sink is None
                elements = hub_list(nel)
                j = 0
                s = t + 1
                while j < nel:
                    k = s
                    while k < b and p[k] != el:
                        k += 1
                    comps = hub_components(p, s, k, comp)
                    Py_INCREF(comps)
                    PyList_SET_ITEM(elements, j, comps)
                    j += 1
                    s = k + 1
                seg = hub_segment(tag, elements, self.line, self.index)
                if not visible:
                    visible = PySet_Contains(self._keep, tag)
            self.line += self.step
            self.last = seg
            if visible:
                return seg
            PyList_Append(sink, seg)
        return None


def batch_end(bytes buf not None, Py_ssize_t pos, int term, bint x12):
    """``_batch_end`` of edifact.py (``x12`` false) or x12.py (``x12`` true): the index of
    the last terminator a batch starting at ``pos`` may take, or -1 for none."""
    if pos < 0 or pos > len(buf):
        raise ValueError("pos outside the buffer")
    return hub_batch_end(<const unsigned char *>(<char *>buf), pos, len(buf), <unsigned char>term, x12)


def region_shape(bytes region not None, int term, int release, bint x12):
    """``_region_shape`` of edifact.py (``x12`` false; ``release`` -1 for none) or x12.py
    (``x12`` true) with a few memchr passes instead of a dozen ``count``/``in`` scans:
    ``(lead, newlines in lead, newlines in body, separator length, body is ASCII)`` where
    body is the region without its leading blanks/line ends, or None when the region does
    not have the plain shape the batch path needs."""
    cdef const unsigned char *p = <const unsigned char *>(<char *>region)
    cdef Py_ssize_t n = len(region), lead = 0, lead_nl = 0
    cdef Py_ssize_t sep_len
    cdef hub_shape sh
    while lead < n and (p[lead] == 32 or p[lead] == 9 or p[lead] == 13 or p[lead] == 10):
        lead_nl += (p[lead] == 10)
        lead += 1
    if lead == n:
        return None
    hub_scan(p, lead, n, <unsigned char>term, release, &sh)
    if sh.rel_bad:
        return None
    if sh.nl == 0 and sh.cr == 0:
        if sh.term_blank or (x12 and (sh.term_term or p[n - 1] == term)):
            return None
        return lead, lead_nl, 0, 1, bool(sh.ascii)
    if sh.cr:
        sep_len = 3
        if sh.term_crlf != sh.nl or sh.cr != sh.nl:
            return None
    else:
        sep_len = 2
        if sh.term_nl != sh.nl:
            return None
    if sh.n_term != sh.nl or sh.cr != sh.crlf or sh.nl_blank or (x12 and p[n - 1] == 10):
        return None
    return lead, lead_nl, sh.nl, sep_len, bool(sh.ascii)
