# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""C accelerator for the mapping fast path of segment sources (optional; see ``mappings/compiled.py``).

``mappings/compiled.py`` specialises a mapping into generated Python functions; per record
what is left is the interpreter's loop around dict and list look-ups: cutting an X12 message
into its HL levels and, for every line, finding each field's segment, testing its qualifiers,
trimming, defaulting and converting the value. This module does those loops in C from a
*program*: one :class:`FieldOp` per field and one :class:`Lookup` per (scope, path), built by
``compiled.py`` from the same decisions its code generator takes (which scope and path comes
first, the whitespace, default and required rules, and which conversion: plain text,
crosswalk, a remembered conversion, or a converter call). Converters themselves (decimal,
dates, the interpreter's own ``_convert``) stay Python and are called from here.

Like the generated code, it only ever *succeeds* with the interpreter's result: anything
unusual (a value that is not text, an HL tree not in file order, a code missing from its
crosswalk, a failing converter) raises, and ``CompiledMapping.apply`` maps the record again
with the interpreter, which words the error. tests/mappings/test_fastmap.py holds the three
(this module, the generated Python, the interpreter) to the same output.

Built by ``.venv/bin/python adapters/edi/build_speedups.py`` (``make setup``);
``HUB_MAPPING_PURE_PYTHON=1`` ignores a built module.
"""
from cpython.dict cimport PyDict_GetItemWithError, PyDict_SetItem, PyDict_Size, PyDict_Check
from cpython.list cimport PyList_GET_SIZE, PyList_GET_ITEM
from cpython.object cimport PyObject
from cpython.mem cimport PyMem_Malloc, PyMem_Realloc, PyMem_Free
from sys import intern

cimport cython

cdef extern from *:
    """
    #include "structmember.h"

    /* Segment fields read at their slot offsets (what the member descriptors do, minus the
       attribute lookup), for the one class registered by fm_use_segment_type after checking
       it is a plain slotted class; any other object, or an unset slot, goes through getattr. */
    static PyTypeObject *fm_seg_type = NULL;
    static Py_ssize_t fm_seg_off[2];

    static int fm_use_segment_type(PyObject *cls, PyObject *names) {
        PyTypeObject *tp;
        Py_ssize_t i, off[2];
        if (!PyType_Check(cls) || !PyTuple_Check(names) || PyTuple_GET_SIZE(names) != 2) {
            PyErr_SetString(PyExc_TypeError, "use_segment_type(cls, (tag field, elements field))");
            return -1;
        }
        tp = (PyTypeObject *)cls;
        if (tp->tp_itemsize != 0 || tp->tp_dictoffset != 0 || tp->tp_dict == NULL) {
            PyErr_SetString(PyExc_TypeError, "the segment type must be a plain slotted class");
            return -1;
        }
        for (i = 0; i < 2; i++) {
            PyObject *d = PyDict_GetItemWithError(tp->tp_dict, PyTuple_GET_ITEM(names, i));
            PyMemberDef *m;
            if (d == NULL || Py_TYPE(d) != &PyMemberDescr_Type) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_TypeError, "the segment type's fields must be slots");
                return -1;
            }
            m = ((PyMemberDescrObject *)d)->d_member;
            if (m->type != T_OBJECT_EX || m->offset < (Py_ssize_t)sizeof(PyObject)
                    || m->offset + (Py_ssize_t)sizeof(PyObject *) > tp->tp_basicsize) {
                PyErr_SetString(PyExc_TypeError, "the segment type's fields must be plain object slots");
                return -1;
            }
            off[i] = m->offset;
        }
        Py_INCREF(cls);
        Py_XDECREF((PyObject *)fm_seg_type);
        fm_seg_type = tp;
        fm_seg_off[0] = off[0];
        fm_seg_off[1] = off[1];
        return 0;
    }

    /* New reference to field k (0 tag, 1 elements) of seg, or NULL with an exception. */
    static inline PyObject *fm_seg_field(PyObject *seg, int k, PyObject *name) {
        if (Py_TYPE(seg) == fm_seg_type) {
            PyObject *v = *(PyObject **)((char *)seg + fm_seg_off[k]);
            if (v != NULL) { Py_INCREF(v); return v; }
        }
        return PyObject_GetAttr(seg, name);
    }

    /* A dict with room for n items without resizing (a line has a known number of fields). */
    static inline PyObject *fm_new_dict(Py_ssize_t n) { return _PyDict_NewPresized(n); }
    """
    int fm_use_segment_type(object cls, object names) except -1
    object fm_seg_field(object seg, int k, object name)
    dict fm_new_dict(Py_ssize_t n)

#: the calling convention compiled.py expects; a stale build with another one is not used
ABI = 1

# where a field's value comes from (FieldOp.source)
SOURCE_PATHS = 0
SOURCE_CONST = 1
SOURCE_SEQUENCE = 2
# how a present value is converted (FieldOp.convert)
CONVERT_TEXT = 0  # type str, no crosswalk, date or scale: the text itself
CONVERT_CROSSWALK = 1  # type str through a crosswalk: partner rows, then the system's and "*"
CONVERT_REMEMBERED = 2  # a conversion of the text alone, remembered per field (bounded)
CONVERT_CALL = 3  # any other conversion: the field's converter
CONVERT_GIVE_UP = 4  # a DTM through a crosswalk or a scale: left to the interpreter

cdef enum:  # the same numbers, for C
    _PATHS = 0
    _CONST = 1
    _SEQUENCE = 2
    _TEXT = 0
    _CROSSWALK = 1
    _REMEMBERED = 2
    _CALL = 3
    _GIVE_UP = 4
    #: distinct (scope, tag) pairs of one field list whose segment lists _fields keeps at hand
    _AT_HAND = 64
    #: partners a crosswalk field keeps a merged table for (more: looked up the long way)
    _PARTNER_TABLES = 32

cdef object _MISSING = object()  # el[e][c] raised IndexError
cdef object _TAG = "tag"
cdef object _ELEMENTS = "elements"
#: str(n) of the first line numbers (a sequence field of type str): equal strings, made once
cdef list _NUMBERS = [str(n) for n in range(4096)]


def use_segment_type(cls, tuple names):
    """Read ``names`` (the tag and elements fields) of ``cls`` instances at their slot offsets."""
    fm_use_segment_type(cls, names)


cdef inline object _tag(object seg):
    return fm_seg_field(seg, 0, _TAG)


cdef inline object _elements(object seg):
    return fm_seg_field(seg, 1, _ELEMENTS)


cdef class Lookup:
    """One path in one scope: the first segment of ``tag`` in the scope whose conditions all
    hold, and its element ``element`` / component ``component``. ``slot`` names the scope:
    0 the line group, 1 the header, 2 the message. ``tag`` is interned: HL levels compare
    tags by identity."""

    cdef readonly int slot
    cdef readonly object tag
    cdef readonly tuple conditions  # ((element, component, value), ...)
    cdef readonly Py_ssize_t element, component
    # the conditions again, for C: positions and (borrowed from `conditions`) values
    cdef Py_ssize_t count
    cdef Py_ssize_t *positions  # element, component, element, component, ...
    cdef PyObject **values
    cdef Py_ssize_t at_hand  # which of _fields' kept segment lists is (slot, tag)'s (Program sets it)
    cdef bint owned  # taken by a Program

    def __cinit__(self):
        self.positions = NULL
        self.values = NULL
        self.at_hand = -1

    def __init__(self, int slot, str tag, tuple conditions, Py_ssize_t element, Py_ssize_t component):
        cdef Py_ssize_t k = 0
        if slot not in (0, 1, 2) or element < 0 or component < 0 or type(tag) is not str:
            raise ValueError("bad lookup")
        for condition in conditions:
            e, c, v = condition
            if type(e) is not int or type(c) is not int or e < 0 or c < 0 or type(v) is not str:
                raise ValueError("bad condition")
        self.slot = slot
        self.tag = intern(tag)
        self.conditions = conditions
        self.element = element
        self.component = component
        self.count = len(conditions)
        self.positions = <Py_ssize_t *>PyMem_Malloc(sizeof(Py_ssize_t) * 2 * (self.count + 1))
        self.values = <PyObject **>PyMem_Malloc(sizeof(PyObject *) * (self.count + 1))
        if self.positions == NULL or self.values == NULL:
            raise MemoryError()
        for condition in conditions:
            self.positions[2 * k] = condition[0]
            self.positions[2 * k + 1] = condition[1]
            self.values[k] = <PyObject *>condition[2]
            k += 1

    def __dealloc__(self):
        PyMem_Free(self.positions)
        PyMem_Free(self.values)


cdef class FieldOp:
    """One field: where its value comes from, the whitespace / default / required rules and
    its conversion (see the module constants)."""

    cdef readonly object name
    cdef readonly int source
    cdef readonly object constant
    cdef readonly tuple lookups
    cdef readonly bint sequence_fallback, dtm, strip, required
    cdef readonly object default  # None: no default
    cdef readonly int convert
    cdef readonly bint plain_text, plain_int  # no crosswalk, date or scale, and type str / int
    cdef readonly object fast, generic, entries, rows, memo
    cdef readonly bint identity
    cdef readonly Py_ssize_t memo_size
    # crosswalk: partner -> {code: canonical}, the system's rows overlaid with the partner's
    # (one look-up instead of two, the first with a new tuple key); tables are read-only data
    cdef dict partner_tables

    def __init__(self, str name, int source, constant, tuple lookups, bint sequence_fallback, bint dtm, bint strip,
                 default, bint required, int convert, bint plain_text, bint plain_int, fast, generic,
                 entries, rows, bint identity, memo, Py_ssize_t memo_size):
        if source not in (_PATHS, _CONST, _SEQUENCE) or convert not in (_TEXT, _CROSSWALK, _REMEMBERED, _CALL, _GIVE_UP):
            raise ValueError("bad field op")
        for lookup in lookups:
            if type(lookup) is not Lookup:
                raise TypeError("lookups must be Lookup")
        if convert == _CROSSWALK and (type(entries) is not dict or type(rows) is not dict):
            raise TypeError("a crosswalk needs its entries and rows")
        if convert == _REMEMBERED and type(memo) is not dict:
            raise TypeError("a remembered conversion needs its memo dict")
        if convert in (_REMEMBERED, _CALL) and not callable(fast):
            raise TypeError("a conversion needs its converter")
        if not callable(generic):
            raise TypeError("a field needs its generic converter")
        self.name = name
        self.source = source
        self.constant = constant
        self.lookups = lookups
        self.sequence_fallback = sequence_fallback
        self.dtm = dtm
        self.strip = strip
        self.default = default
        self.required = required
        self.convert = convert
        self.plain_text = plain_text
        self.plain_int = plain_int
        self.fast = fast
        self.generic = generic
        self.entries = entries
        self.rows = rows
        self.identity = identity
        self.memo = memo
        self.memo_size = memo_size
        self.partner_tables = {}

    cdef object _partner_table(self, object partner):
        """``{code: canonical}`` for ``partner``: its own rows win over the system's and ``*``
        (the order the generated code looks them up in), or None past _PARTNER_TABLES."""
        cdef PyObject *known = PyDict_GetItemWithError(self.partner_tables, partner)
        if known != NULL:
            return <object>known
        if PyDict_Size(self.partner_tables) >= _PARTNER_TABLES:
            return None
        table = dict(self.rows)
        for (source, code), canonical in self.entries.items():
            if source == partner:
                table[code] = canonical
        self.partner_tables[partner] = table
        return table


cdef class Program:
    """A mapping's header and line fields; ``header`` and ``line`` have the signatures of the
    generated functions, so compiled.py's runners take either."""

    cdef readonly tuple header_ops, line_ops
    cdef readonly object fallback

    def __init__(self, tuple header_ops, tuple line_ops, fallback):
        for op in header_ops + line_ops:
            if type(op) is not FieldOp:
                raise TypeError("ops must be FieldOp")
        if not (isinstance(fallback, type) and issubclass(fallback, Exception)):
            raise TypeError("fallback must be an exception class")
        self.header_ops = header_ops
        self.line_ops = line_ops
        self.fallback = fallback
        for ops in (header_ops, line_ops):
            # each (slot, tag) a field list looks in is fetched from its index once per call
            kept = {}
            for op in ops:
                for lookup in (<FieldOp>op).lookups:
                    if (<Lookup>lookup).owned:
                        raise ValueError("a Lookup belongs to one program, once")
                    (<Lookup>lookup).owned = True
                    key = ((<Lookup>lookup).slot, (<Lookup>lookup).tag)
                    if key not in kept and len(kept) < _AT_HAND:
                        kept[key] = len(kept)
                    (<Lookup>lookup).at_hand = kept.get(key, -1)

    def header(self, mix, hix, partner):
        return _fields(self, self.header_ops, None, hix, mix, None, partner, NULL, -1)

    def line(self, gix, hix, mix, seq, partner):
        return _fields(self, self.line_ops, gix, hix, mix, seq, partner, NULL, -1)


# --------------------------------------------------------------------------- fields


@cython.boundscheck(True)  # the generic indexing below must raise IndexError like Python's
cdef inline object _at(object el, Py_ssize_t e, Py_ssize_t c):
    """``el[e][c]``, or _MISSING where Python raises IndexError."""
    cdef object comp
    if type(el) is list:
        if e >= PyList_GET_SIZE(el):
            return _MISSING
        comp = <object>PyList_GET_ITEM(el, e)
        if type(comp) is list:
            if c >= PyList_GET_SIZE(comp):
                return _MISSING
            return <object>PyList_GET_ITEM(comp, c)
        try:
            return comp[c]
        except IndexError:
            return _MISSING
    try:
        return el[e][c]
    except IndexError:
        return _MISSING


cdef inline bint _holds(object el, Lookup lookup) except -1:
    """Every condition holds (an absent position fails), as the generated ``_test``."""
    cdef object value, comp
    cdef Py_ssize_t k, e, c
    for k in range(lookup.count):
        e = lookup.positions[2 * k]
        c = lookup.positions[2 * k + 1]
        if type(el) is list and e < PyList_GET_SIZE(el):  # the codec's lists of lists, inline
            comp = <object>PyList_GET_ITEM(el, e)
            if type(comp) is list:
                if c >= PyList_GET_SIZE(comp):
                    return False
                value = <object>PyList_GET_ITEM(comp, c)
            else:
                value = _at(el, e, c)
        else:
            value = _at(el, e, c)
        if value is _MISSING:
            return False
        if type(value) is str:
            if not (<str>value == <str><object>lookup.values[k]):
                return False
        elif value != <object>lookup.values[k]:
            return False
    return True


cdef object _first(Lookup lookup, object segments):
    """The elements of the first of ``segments`` meeting the lookup's conditions, or None."""
    cdef object el
    for seg in segments:
        el = _elements(seg)
        if lookup.count == 0 or _holds(el, lookup):
            return el
    return None


cdef inline bint _isspace(str text):
    """``text.isspace()``: every character is whitespace (and there is one)."""
    cdef Py_UCS4 ch
    if len(text) == 0:
        return False
    for ch in text:
        if not ch.isspace():
            return False
    return True


cdef inline object _strip(str text):
    """``text.strip()`` without the call when neither end is whitespace."""
    cdef Py_ssize_t n = len(text)
    if n == 0:
        return text
    if not text[0].isspace() and not text[n - 1].isspace():
        return text
    return text.strip()


cdef struct _Levels:
    # X12 HL levels of one message (hl_map): every level's own group segments sit in one
    # list, in document order, level by level; level k owns items start[k]..end[k]-1 and its
    # parent is level parent[k] (-1: a root). The lists are hl_map's and outlive the call.
    PyObject *segments  # list of segments
    PyObject *tags  # list: their tags, interned (compared to Lookup.tag by identity)
    Py_ssize_t *start
    Py_ssize_t *end
    Py_ssize_t *parent


cdef object _first_in_levels(Lookup lookup, _Levels *levels, Py_ssize_t level):
    """:func:`_first` over the level's own segments of the tag, then its parent's, and so on:
    the chain compiled.py's ``_hl_runner`` builds, without building it."""
    cdef list segments = <list>levels.segments, tags = <list>levels.tags
    cdef PyObject *tag = <PyObject *>lookup.tag
    cdef Py_ssize_t i
    cdef object el
    while level >= 0:
        for i in range(levels.start[level], levels.end[level]):
            if PyList_GET_ITEM(tags, i) != tag:
                continue
            el = _elements(<object>PyList_GET_ITEM(segments, i))
            if lookup.count == 0 or _holds(el, lookup):
                return el
        level = levels.parent[level]
    return None


cdef dict _fields(Program program, tuple ops, object gix, object hix, object mix, object seq, object partner,
                  _Levels *levels, Py_ssize_t level):
    """One header or line: every field of ``ops`` looked up, checked and converted (the
    generated function's body). The group scope is ``gix`` (a tag index), or with ``levels``
    the X12 level ``level`` and its ancestors."""
    cdef dict out = fm_new_dict(len(ops))
    cdef FieldOp op
    cdef Lookup lookup
    cdef object raw, fc, index, segments, el, found, value, key, table
    cdef PyObject *hit
    # the segment lists of the (slot, tag) pairs looked at, fetched once: borrowed from the
    # indexes, which the caller holds and nothing here changes; NULL = not fetched yet
    cdef PyObject *at_hand[_AT_HAND]
    cdef Py_ssize_t k
    for k in range(_AT_HAND):
        at_hand[k] = NULL
    for item in ops:
        op = <FieldOp>item
        fc = ""
        if op.source == _CONST:
            raw = op.constant
        elif op.source == _SEQUENCE:
            raw = seq
        else:
            raw = None
            for entry in op.lookups:
                if raw:
                    break
                lookup = <Lookup>entry
                if lookup.slot == 0 and levels != NULL:
                    el = _first_in_levels(lookup, levels, level)
                else:
                    if lookup.at_hand >= 0 and at_hand[lookup.at_hand] != NULL:
                        segments = <object>at_hand[lookup.at_hand]
                    else:
                        index = gix if lookup.slot == 0 else (hix if lookup.slot == 1 else mix)
                        if PyDict_Check(index):  # a dict or defaultdict (whose .get adds nothing)
                            hit = PyDict_GetItemWithError(index, lookup.tag)
                            segments = None if hit == NULL else <object>hit
                            if lookup.at_hand >= 0:
                                at_hand[lookup.at_hand] = <PyObject *>segments  # None: the tag is absent
                        else:
                            segments = index.get(lookup.tag)
                    el = None if segments is None else _first(lookup, segments)
                if el is None:
                    continue
                found = _at(el, lookup.element, lookup.component)
                if found is not _MISSING:
                    if type(found) is not str:
                        raise program.fallback  # not text: the interpreter decides
                    raw = found
                if op.dtm:
                    found = _at(el, lookup.element, 2)
                    fc = "" if found is _MISSING else found
            if op.sequence_fallback and not raw:
                raw = seq
        # whitespace: strip: true trims; a whitespace-only value always counts as absent
        if type(raw) is str:
            if op.strip:
                raw = _strip(<str>raw)
                if len(<str>raw) == 0:
                    raw = None
            elif len(<str>raw) == 0 or _isspace(<str>raw):
                raw = None
        if raw is None:
            if op.default is not None:
                raw = op.default
            elif op.required:
                raise program.fallback  # the interpreter names field, path and where
            else:
                continue  # absent: the canonical model's default applies
        if op.convert == _GIVE_UP:
            raise program.fallback
        if type(raw) is not str:
            # a line number, or a non-text constant or default: the exact int shortcuts are
            # what the interpreter's _as_type gives; anything else is its own conversion
            if type(raw) is int and op.plain_int:
                out[op.name] = raw
            elif type(raw) is int and op.plain_text:
                out[op.name] = _NUMBERS[<Py_ssize_t>raw] if 0 <= raw < 4096 else str(raw)
            else:
                out[op.name] = op.generic(raw, partner)
            continue
        if op.convert == _TEXT:
            out[op.name] = raw
        elif op.convert == _CROSSWALK:
            table = op._partner_table(partner)
            if table is not None:
                hit = PyDict_GetItemWithError(<dict>table, raw)
            else:
                hit = PyDict_GetItemWithError(op.entries, (partner, raw))
                if hit == NULL:
                    hit = PyDict_GetItemWithError(op.rows, raw)
            if hit != NULL:
                out[op.name] = <object>hit
            elif op.identity:
                out[op.name] = raw
            else:
                raise program.fallback  # UNKNOWN_<TABLE>, worded by the interpreter
        elif op.convert == _REMEMBERED:
            key = (raw, fc) if op.dtm else raw
            hit = PyDict_GetItemWithError(op.memo, key)
            if hit != NULL:
                out[op.name] = <object>hit
            else:
                value = op.fast(raw, fc if op.dtm else partner)
                if PyDict_Size(op.memo) < op.memo_size:
                    PyDict_SetItem(op.memo, key, value)
                out[op.name] = value
        else:
            out[op.name] = op.fast(raw, fc if op.dtm else partner)
    return out


# --------------------------------------------------------------------------- X12 HL levels


cdef enum:  # what a tag is to hl_map (_Role.flags)
    _IN_MESSAGE = 1  # a message-scope field looks at it
    _IN_HEADER = 2  # a header-scope field looks at it (before the first HL)
    _IN_GROUP = 4  # a line field looks at it in the line's levels
    _ENDS_LEVEL = 8  # CTT, SE: ends the level being read without starting one
    _IS_HL = 16


cdef class _Role:
    cdef int flags
    cdef object canonical  # the tag interned (what Lookup.tag is), for _IN_GROUP


cdef class HLSpec:
    """What ``hl_map`` needs besides the program: the line level (HL03), the tags each index
    holds (message, header, a line's levels), the tags that end a level without starting one
    (CTT, SE), and the name of the list of lines."""

    cdef readonly object level, into
    cdef readonly frozenset message_tags, header_tags, group_tags, summary_tags
    # tag -> _Role: one look-up per segment says everything hl_map does with it (a tag not in
    # it changes nothing, as in compiled._hl_runner)
    cdef dict roles

    def __init__(self, str level, frozenset message_tags, frozenset header_tags, frozenset group_tags,
                 frozenset summary_tags, str into):
        cdef _Role role
        self.level = level
        self.message_tags = message_tags
        self.header_tags = header_tags
        self.group_tags = group_tags
        self.summary_tags = summary_tags
        self.into = into
        self.roles = {}
        for tags, flag in ((message_tags, _IN_MESSAGE), (header_tags, _IN_HEADER), (group_tags, _IN_GROUP),
                           (summary_tags, _ENDS_LEVEL), (frozenset({"HL"}), _IS_HL)):
            for tag in tags:
                if type(tag) is not str:
                    raise TypeError("tags are str")
                role = self.roles.get(tag)
                if role is None:
                    role = self.roles[tag] = _Role()
                    role.canonical = intern(tag)
                role.flags |= flag


cdef inline void _add(dict index, object tag, object seg) except *:
    cdef PyObject *same = PyDict_GetItemWithError(index, tag)
    if same == NULL:
        index[tag] = [seg]
    else:
        (<list>same).append(seg)


cdef inline Py_ssize_t *_grow(Py_ssize_t *array, Py_ssize_t size) except NULL:
    cdef Py_ssize_t *grown = <Py_ssize_t *>PyMem_Realloc(array, sizeof(Py_ssize_t) * size)
    if grown == NULL:
        raise MemoryError()
    return grown


def hl_map(object segments, HLSpec spec, Program program, object partner):
    """The mapped document (header fields and ``spec.into``: one line per HL of the level) as a
    dict, before validation: ``compiled._hl_runner``'s loop, for HL trees in file order (every
    HL's parent is the previous HL or one of its ancestors); anything else raises
    ``program.fallback`` for the interpreter, which calls ``adapters.edi.x12.hl_tree``.

    Instead of ``_hl_runner``'s per-level tag indexes (each level's own segments merged with
    its parent's), the levels are ranges of one list of group segments with a parent link
    (:class:`_Levels`); a line's look-up walks its level and then its ancestors, which visits
    the segments in the order of the merged index."""
    cdef dict mix = {}, hix = {}
    cdef list own_segments = [], own_tags = []
    cdef _Levels levels
    cdef Py_ssize_t count = 0, capacity = 0  # levels
    cdef Py_ssize_t *lines = NULL  # the levels of spec.level, in document order
    cdef Py_ssize_t line_count = 0
    # the levels from the root to the HL being read: HL01 and level number; entries past
    # `depth` are stale, overwritten as the path grows again
    cdef list open_ids = []
    cdef Py_ssize_t *open_levels = NULL
    cdef Py_ssize_t depth = 0
    cdef set seen = set()
    cdef Py_ssize_t current = -1  # the level being read (-1: none, before the first HL or after CTT/SE)
    cdef bint current_is_line = False
    cdef bint in_header = True
    cdef dict roles = spec.roles
    cdef _Role role
    cdef object tag, el, hl_id, parent_id, own_code, fallback = program.fallback
    cdef PyObject *hit
    cdef Py_ssize_t parent, n
    levels.start = levels.end = levels.parent = NULL
    try:
        for seg in segments:
            tag = _tag(seg)
            hit = PyDict_GetItemWithError(roles, tag)
            if hit == NULL:
                continue  # no field, boundary or level looks at it
            role = <_Role>hit
            if role.flags & _IN_MESSAGE:
                _add(mix, tag, seg)
            if role.flags & _IS_HL or (current >= 0 and role.flags & _ENDS_LEVEL):
                if current >= 0:  # the HL being read is complete, and a line if of the level
                    levels.end[current] = len(own_segments)
                    if current_is_line:
                        lines[line_count] = current
                        line_count += 1
                    current = -1
                if not role.flags & _IS_HL:
                    continue  # CTT/SE: segments up to the next HL belong to no level
                in_header = False
                el = _elements(seg)
                hl_id = _at(el, 0, 0)
                parent_id = _at(el, 1, 0)
                own_code = _at(el, 2, 0)
                if hl_id is _MISSING or parent_id is _MISSING or own_code is _MISSING:
                    hl_id, parent_id, own_code = seg.get(0), seg.get(1), seg.get(2)  # "" when absent
                if not hl_id or hl_id in seen:
                    raise fallback
                seen.add(hl_id)
                if parent_id:
                    while depth and open_ids[depth - 1] != parent_id:
                        depth -= 1
                    if not depth:
                        raise fallback
                    parent = open_levels[depth - 1]
                    if levels.end[parent] < 0:  # the parent never completed (as _hl_runner checks)
                        raise fallback
                else:
                    depth = 0
                    parent = -1
                if count == capacity:
                    capacity = 2 * capacity + 16
                    levels.start = _grow(levels.start, capacity)
                    levels.end = _grow(levels.end, capacity)
                    levels.parent = _grow(levels.parent, capacity)
                    lines = _grow(lines, capacity)
                    open_levels = _grow(open_levels, capacity)
                current = count
                count += 1
                levels.start[current] = len(own_segments)
                levels.end[current] = -1
                levels.parent[current] = parent
                current_is_line = own_code == spec.level
                if role.flags & _IN_GROUP:
                    own_segments.append(seg)
                    own_tags.append(role.canonical)
                if depth < len(open_ids):
                    open_ids[depth] = hl_id
                else:
                    open_ids.append(hl_id)
                open_levels[depth] = current
                depth += 1
            elif in_header:
                if role.flags & _IN_HEADER:
                    _add(hix, tag, seg)
            elif current >= 0 and role.flags & _IN_GROUP:
                own_segments.append(seg)
                own_tags.append(role.canonical)
        if current >= 0:
            levels.end[current] = len(own_segments)
            if current_is_line:
                lines[line_count] = current
                line_count += 1
        levels.segments = <PyObject *>own_segments
        levels.tags = <PyObject *>own_tags
        doc = _fields(program, program.header_ops, None, hix, mix, None, partner, NULL, -1)
        out = []
        for n in range(line_count):
            out.append(_fields(program, program.line_ops, None, hix, mix, n + 1, partner, &levels, lines[n]))
        doc[spec.into] = out
        return doc
    finally:
        PyMem_Free(levels.start)
        PyMem_Free(levels.end)
        PyMem_Free(levels.parent)
        PyMem_Free(lines)
        PyMem_Free(open_levels)
