// The compiled text backend: tokenizing, counting and indexing text into padded numpy arrays.
//
// It implements exactly the API and behaviour of _text_reference.py (the plain-Python twin
// that defines them; read its docstring for the rules); _text_equivalence_test.py checks both
// on random Unicode. Why it exists: tokenizing and padding in Python keeps the accelerator
// waiting. How it is fast:
//   * texts are read as the UTF-8 buffers CPython already holds (no per-token Python objects);
//   * tokens are looked up as string views in an open-addressing hash table;
//   * ids go to a flat buffer, then straight into preallocated numpy arrays;
//   * the GIL is released while tokenizing, looking up and filling.
// Python strings may hold lone surrogates; they are encoded with "surrogatepass" and are
// ordinary word characters, as in the twin.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "formed/data/_unicode_tables.h"

namespace py = pybind11;
namespace fu = formed_unicode;

namespace {

// ---------------------------------------------------------------------------------------------
// Character classes and lower-casing.

// What the tokenizer needs to know about one byte: the class of an ASCII byte, a flag for the
// upper-case ASCII letters (they need lowering), and a mark for the bytes of non-ASCII code points.
constexpr uint8_t kUpperFlag = 4;
constexpr uint8_t kNonAscii = 8;
constexpr uint8_t kNotAsciiWord = 1 | 2 | kNonAscii;  // (info & this) == 0: an ASCII word byte

struct ClassTables {
  uint8_t bytes[256];    // class | kUpperFlag, or kNonAscii
  uint8_t bmp[0x10000];  // class of every code point below U+10000
  ClassTables() {
    std::memset(bmp, fu::kWord, sizeof(bmp));
    for (const auto& range : fu::kClassRanges) {
      for (uint32_t cp = range.first; cp <= range.last && cp < 0x10000; ++cp) bmp[cp] = range.klass;
    }
    for (int c = 0; c < 256; ++c) {
      bytes[c] = c >= 128 ? kNonAscii : bmp[c] | ((c >= 'A' && c <= 'Z') ? kUpperFlag : 0);
    }
  }
};

const ClassTables& tables() {
  static const ClassTables instance;
  return instance;
}

int char_class(uint32_t cp) {
  if (cp < 0x10000) return tables().bmp[cp];
  const auto* begin = std::begin(fu::kClassRanges);
  const auto* end = std::end(fu::kClassRanges);
  const auto* it = std::upper_bound(begin, end, cp, [](uint32_t value, const fu::ClassRange& r) {
    return value < r.first;
  });
  if (it == begin) return fu::kWord;
  --it;
  return cp <= it->last ? it->klass : fu::kWord;
}

const fu::LowerEntry* lower_entry(uint32_t cp) {
  const auto* begin = std::begin(fu::kLowerMap);
  const auto* end = std::end(fu::kLowerMap);
  const auto* it = std::lower_bound(begin, end, cp, [](const fu::LowerEntry& e, uint32_t value) {
    return e.code_point < value;
  });
  return (it != end && it->code_point == cp) ? it : nullptr;
}

inline bool is_continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Decodes one code point at p (p < end). Input comes from CPython's UTF-8 encoder (with
// "surrogatepass"), so it is well formed; a malformed byte, which cannot come from a str, is
// read as one U+FFFD of length 1 so that no input can read out of bounds.
inline uint32_t decode(const unsigned char* p, const unsigned char* end, int* length) {
  const unsigned c = p[0];
  if (c < 0x80) {
    *length = 1;
    return c;
  }
  const std::ptrdiff_t left = end - p;
  if (c >= 0xC2 && c < 0xE0 && left >= 2 && is_continuation(p[1])) {
    *length = 2;
    return ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
  }
  if (c >= 0xE0 && c < 0xF0 && left >= 3 && is_continuation(p[1]) && is_continuation(p[2])) {
    const uint32_t cp = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    if (cp >= 0x800) {
      *length = 3;
      return cp;
    }
  }
  if (c >= 0xF0 && c < 0xF5 && left >= 4 && is_continuation(p[1]) && is_continuation(p[2]) &&
      is_continuation(p[3])) {
    const uint32_t cp = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) |
                        (p[3] & 0x3Fu);
    if (cp >= 0x10000 && cp <= 0x10FFFF) {
      *length = 4;
      return cp;
    }
  }
  *length = 1;
  return 0xFFFD;
}

inline void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// The lower-cased token, written to `scratch` (valid until the next call with it).
std::string_view lower_token(std::string_view token, std::string& scratch) {
  scratch.clear();
  const auto* p = reinterpret_cast<const unsigned char*>(token.data());
  const auto* end = p + token.size();
  while (p < end) {
    if (*p < 0x80) {
      scratch.push_back(static_cast<char>((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p));
      ++p;
      continue;
    }
    int length;
    const uint32_t cp = decode(p, end, &length);
    const fu::LowerEntry* entry = lower_entry(cp);
    if (entry == nullptr) {
      scratch.append(reinterpret_cast<const char*>(p), length);
    } else {
      for (uint32_t lowered : entry->lowered) {
        if (lowered == 0) break;
        append_utf8(lowered, scratch);
      }
    }
    p += length;
  }
  return scratch;
}

// Calls emit(token) for the first `max_tokens` tokens of `text` (all when max_tokens < 0).
template <class Emit>
void for_each_token(std::string_view text, bool lowercase, long max_tokens, std::string& scratch,
                    Emit&& emit) {
  if (max_tokens == 0) return;
  const ClassTables& t = tables();
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  const unsigned char* word = nullptr;  // start of the word being read
  bool needs_lowering = false;          // the word holds an upper-case ASCII or a non-ASCII byte
  long emitted = 0;
  auto flush = [&](const unsigned char* from, const unsigned char* to, bool lower_it) {
    std::string_view token(reinterpret_cast<const char*>(from), to - from);
    emit(lowercase && lower_it ? lower_token(token, scratch) : token);
    return ++emitted != max_tokens;
  };
  while (p < end) {
    const uint8_t info = t.bytes[*p];
    if ((info & kNotAsciiWord) == 0) {  // the common case: a byte of an ASCII word
      if (word == nullptr) {
        word = p;
        needs_lowering = false;
      }
      needs_lowering |= info != 0;
      ++p;
      continue;
    }
    int klass, length = 1;
    bool special = true;
    if (info & kNonAscii) {
      klass = char_class(decode(p, end, &length));
    } else {
      klass = info & 3;
      special = false;  // ASCII space and punctuation have no upper case
    }
    if (klass == fu::kWord) {
      if (word == nullptr) {
        word = p;
        needs_lowering = false;
      }
      needs_lowering = true;
    } else {
      if (word != nullptr) {
        if (!flush(word, p, needs_lowering)) return;
        word = nullptr;
      }
      if (klass == fu::kPunct && !flush(p, p + length, special)) return;
    }
    p += length;
  }
  if (word != nullptr) flush(word, end, needs_lowering);
}

// ---------------------------------------------------------------------------------------------
// A string → Value hash table keyed by bytes: open addressing with linear probing. A slot keeps
// a hash tag, the length, the first and last 8 bytes of its key and its value, so that looking
// up a key of at most 16 bytes (nearly every word) reads one slot (32 bytes for int32 ids) and
// never the key arena.

// The bytes of a key of at most 8 bytes packed into a word; for a given length, distinct keys
// give distinct words (every byte is read at least once).
inline uint64_t pack_short(const char* p, size_t n) {
  if (n >= 4) {
    uint32_t low, high;
    std::memcpy(&low, p, 4);
    std::memcpy(&high, p + n - 4, 4);
    return low | (static_cast<uint64_t>(high) << 32);
  }
  if (n == 0) return 0;
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return u[0] | (static_cast<uint64_t>(u[n / 2]) << 8) | (static_cast<uint64_t>(u[n - 1]) << 16);
}

inline uint64_t mix(uint64_t h) {
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

// A key with its hash and inline words, computed once so that its slot can be prefetched
// before the lookup.
struct Key {
  std::string_view bytes;
  uint64_t hash, head, tail;
};

inline Key make_key(std::string_view bytes) {
  constexpr uint64_t kMul = 0x9FB21C651E98DF25ull;
  const char* p = bytes.data();
  const size_t n = bytes.size();
  Key key{bytes, 0, 0, 0};
  if (n <= 8) {
    key.head = pack_short(p, n);
    key.hash = mix((key.head ^ (n * 0xFF51AFD7ED558CCDull)) * kMul);
    return key;
  }
  std::memcpy(&key.head, p, 8);
  std::memcpy(&key.tail, p + n - 8, 8);  // overlaps head when n < 16
  uint64_t h = (0x9E3779B97F4A7C15ull ^ (n * 0xFF51AFD7ED558CCDull) ^ key.head) * kMul;
  for (size_t i = 8; i + 8 < n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    h = ((h ^ (h >> 29)) ^ v) * kMul;
  }
  key.hash = mix((h ^ (h >> 29) ^ key.tail) * kMul);
  return key;
}

template <class Value>
class StringTable {
 public:
  StringTable() { rehash(64); }

  void prefetch(const Key& key) const { __builtin_prefetch(&slots_[key.hash & mask_]); }

  // The value of `key`, or nullptr.
  const Value* find(const Key& key) const {
    const uint32_t tag = tag_of(key.hash);
    for (size_t i = key.hash & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.tag == 0) return nullptr;
      if (matches(slot, tag, key)) return &slot.value;
    }
  }
  const Value* find(std::string_view bytes) const { return find(make_key(bytes)); }

  // The value of `key`, inserted with `initial` when absent.
  Value& get_or_insert(const Key& key, Value initial) {
    const uint32_t tag = tag_of(key.hash);
    size_t i = key.hash & mask_;
    for (;; i = (i + 1) & mask_) {
      Slot& slot = slots_[i];
      if (slot.tag == 0) break;
      if (matches(slot, tag, key)) return slot.value;
    }
    if (arena_.size() + key.bytes.size() > UINT32_MAX) throw std::length_error("too many distinct tokens for the table");
    if ((size_ + 1) * 4 > slots_.size() * 3) {  // keep the load under 3/4
      rehash(slots_.size() * 2);
      return get_or_insert(key, initial);
    }
    slots_[i] = Slot{key.head, key.tail, tag, static_cast<uint32_t>(key.bytes.size()),
                     static_cast<uint32_t>(arena_.size()), initial};
    arena_.append(key.bytes.data(), key.bytes.size());
    ++size_;
    return slots_[i].value;
  }
  Value& get_or_insert(std::string_view bytes, Value initial) { return get_or_insert(make_key(bytes), initial); }

  size_t size() const { return size_; }

  // Calls f(key, value) for every entry (in table order).
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& slot : slots_) {
      if (slot.tag != 0) f(std::string_view(arena_.data() + slot.offset, slot.length), slot.value);
    }
  }

 private:
  struct Slot {
    uint64_t head, tail;  // see Key
    uint32_t tag;         // high half of the hash, never 0; 0 marks a free slot
    uint32_t length;
    uint32_t offset;      // of the key in the arena
    Value value;
  };
  static_assert(sizeof(Value) > 4 || sizeof(Slot) == 32, "two id slots per cache line");

  static uint32_t tag_of(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1u; }

  bool matches(const Slot& slot, uint32_t tag, const Key& key) const {
    const size_t n = key.bytes.size();
    if (slot.tag != tag || slot.length != n || slot.head != key.head || slot.tail != key.tail) return false;
    return n <= 16 || std::memcmp(arena_.data() + slot.offset, key.bytes.data(), n) == 0;
  }

  void rehash(size_t capacity) {
    std::vector<Slot> old(capacity, Slot{0, 0, 0, 0, 0, 0});
    old.swap(slots_);
    mask_ = capacity - 1;
    for (const Slot& slot : old) {
      if (slot.tag == 0) continue;
      const std::string_view bytes(arena_.data() + slot.offset, slot.length);
      size_t i = make_key(bytes).hash & mask_;
      while (slots_[i].tag != 0) i = (i + 1) & mask_;
      slots_[i] = slot;
    }
  }

  std::vector<Slot> slots_;
  std::string arena_;
  size_t size_ = 0;
  size_t mask_ = 0;
};

// The tokens of one batch item, gathered so that all their table slots are prefetched before
// any is probed: the cache misses of the lookups then overlap instead of adding up.
class RowTokens {
 public:
  void clear() {
    pending_.clear();
    lowered_.clear();
  }

  // Adds a token emitted by for_each_token; lower-cased ones live in `scratch` and are copied.
  void add(std::string_view token, const std::string& scratch) {
    if (!scratch.empty() && token.data() == scratch.data()) {
      pending_.push_back({nullptr, lowered_.size(), token.size()});
      lowered_.append(token);
    } else {
      pending_.push_back({token.data(), 0, token.size()});
    }
  }

  // The keys of the gathered tokens, in order, with their slots in `table` prefetched.
  template <class Table>
  const std::vector<Key>& keys(const Table& table) {
    keys_.clear();
    for (const Pending& token : pending_) {
      const char* data = token.data != nullptr ? token.data : lowered_.data() + token.offset;
      keys_.push_back(make_key(std::string_view(data, token.length)));
      table.prefetch(keys_.back());
    }
    return keys_;
  }

 private:
  struct Pending {
    const char* data;  // nullptr: the bytes are in lowered_ at offset
    size_t offset, length;
  };
  std::vector<Pending> pending_;
  std::string lowered_;
  std::vector<Key> keys_;
};

// ---------------------------------------------------------------------------------------------
// Reading Python arguments.

std::string type_name(py::handle object) {
  return py::str(py::type::handle_of(object).attr("__name__"));
}

// The UTF-8 bytes of a str; `keep` holds whatever must outlive the view.
std::string_view utf8_view(PyObject* text, std::vector<py::object>& keep) {
  Py_ssize_t size;
  const char* data = PyUnicode_AsUTF8AndSize(text, &size);
  if (data != nullptr) {
    keep.push_back(py::reinterpret_borrow<py::object>(text));
    return std::string_view(data, size);
  }
  PyErr_Clear();  // lone surrogates: encode them as the twin's rules say
  PyObject* encoded = PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
  if (encoded == nullptr) throw py::error_already_set();
  keep.push_back(py::reinterpret_steal<py::object>(encoded));
  return std::string_view(PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded));
}

py::str to_python(std::string_view bytes) {
  PyObject* text = PyUnicode_DecodeUTF8(bytes.data(), static_cast<Py_ssize_t>(bytes.size()), "surrogatepass");
  if (text == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(text);
}

// A batch argument read into views, so that the work can run without the GIL.
struct Batch {
  std::vector<py::object> keep;
  std::vector<std::string_view> views;
  // Per item: first view and number of views; a count of -1 marks a text (one view).
  std::vector<std::pair<size_t, long>> items;
};

Batch read_batch(py::handle items) {
  if (!(PyList_Check(items.ptr()) || PyTuple_Check(items.ptr()))) {
    throw py::type_error("expected a list of texts or of token lists, got " + type_name(items));
  }
  py::sequence sequence = py::reinterpret_borrow<py::sequence>(items);
  Batch batch;
  const size_t n = sequence.size();
  batch.items.reserve(n);
  batch.views.reserve(n);
  batch.keep.reserve(n);
  for (size_t position = 0; position < n; ++position) {
    py::object item = sequence[position];
    if (PyUnicode_Check(item.ptr())) {
      batch.items.emplace_back(batch.views.size(), -1);
      batch.views.push_back(utf8_view(item.ptr(), batch.keep));
    } else if (PyList_Check(item.ptr()) || PyTuple_Check(item.ptr())) {
      py::sequence tokens = py::reinterpret_borrow<py::sequence>(item);
      const size_t first = batch.views.size();
      for (size_t j = 0; j < tokens.size(); ++j) {
        py::object token = tokens[j];
        if (!PyUnicode_Check(token.ptr())) {
          throw py::type_error("item " + std::to_string(position) +
                               " of the batch: tokens must be str, got " + type_name(token));
        }
        batch.views.push_back(utf8_view(token.ptr(), batch.keep));
      }
      batch.items.emplace_back(first, static_cast<long>(batch.views.size() - first));
    } else {
      throw py::type_error("item " + std::to_string(position) + " of the batch is " + type_name(item) +
                           "; expected str or a list of str tokens");
    }
  }
  return batch;
}

long read_limit(const std::optional<long>& limit, const char* name) {
  if (!limit.has_value()) return -1;
  if (*limit < 0) {
    throw py::value_error(std::string(name) + " must be >= 0 or None, got " + std::to_string(*limit));
  }
  return *limit;
}

// Calls emit(token) for each token of batch item `index`, as _text_reference._item_tokens.
template <class Emit>
void for_each_item_token(const Batch& batch, size_t index, bool lowercase, long max_tokens,
                         std::string& scratch, Emit&& emit) {
  const auto [first, count] = batch.items[index];
  if (count < 0) {
    for_each_token(batch.views[first], lowercase, max_tokens, scratch, emit);
    return;
  }
  const long kept = max_tokens < 0 ? count : std::min(count, max_tokens);
  for (long j = 0; j < kept; ++j) {
    const std::string_view token = batch.views[first + j];
    emit(lowercase ? lower_token(token, scratch) : token);
  }
}

template <class F>
void for_each_code_point(std::string_view token, F&& f) {
  const auto* p = reinterpret_cast<const unsigned char*>(token.data());
  const auto* end = p + token.size();
  while (p < end) {
    int length;
    decode(p, end, &length);
    if (!f(std::string_view(reinterpret_cast<const char*>(p), length))) return;
    p += length;
  }
}

py::dict to_dict(const StringTable<int64_t>& table) {
  py::dict result;
  table.for_each([&](std::string_view key, int64_t value) { result[to_python(key)] = py::int_(value); });
  return result;
}

// ---------------------------------------------------------------------------------------------
// The module's functions and the TokenIndex class (same names as in the twin).

py::list tokenize(py::handle text, bool lowercase, std::optional<long> max_length) {
  if (!PyUnicode_Check(text.ptr())) throw py::type_error("expected str, got " + type_name(text));
  const long limit = read_limit(max_length, "max_length");
  std::vector<py::object> keep;
  const std::string_view view = utf8_view(text.ptr(), keep);
  py::list tokens;
  std::string scratch;
  for_each_token(view, lowercase, limit, scratch, [&](std::string_view token) { tokens.append(to_python(token)); });
  return tokens;
}

py::dict count_tokens(py::handle items, bool lowercase) {
  Batch batch = read_batch(items);
  StringTable<int64_t> counts;
  {
    py::gil_scoped_release release;
    std::string scratch;
    RowTokens row;
    for (size_t i = 0; i < batch.items.size(); ++i) {
      row.clear();
      for_each_item_token(batch, i, lowercase, -1, scratch,
                          [&](std::string_view token) { row.add(token, scratch); });
      for (const auto& key : row.keys(counts)) ++counts.get_or_insert(key, 0);
    }
  }
  return to_dict(counts);
}

py::dict count_characters(py::handle items, bool lowercase) {
  Batch batch = read_batch(items);
  StringTable<int64_t> counts;
  {
    py::gil_scoped_release release;
    std::string scratch;
    for (size_t i = 0; i < batch.items.size(); ++i) {
      for_each_item_token(batch, i, lowercase, -1, scratch, [&](std::string_view token) {
        for_each_code_point(token, [&](std::string_view character) {
          ++counts.get_or_insert(character, 0);
          return true;
        });
      });
    }
  }
  return to_dict(counts);
}

class TokenIndex {
 public:
  TokenIndex(py::handle tokens, int64_t unknown_id) : unknown_id_(unknown_id) {
    if (!(PyList_Check(tokens.ptr()) || PyTuple_Check(tokens.ptr()))) {
      throw py::type_error("expected a list of tokens, got " + type_name(tokens));
    }
    py::sequence sequence = py::reinterpret_borrow<py::sequence>(tokens);
    if (sequence.size() > static_cast<size_t>(INT32_MAX)) throw py::value_error("too many tokens for int32 ids");
    for (size_t index = 0; index < sequence.size(); ++index) {
      py::object token = sequence[index];
      if (!PyUnicode_Check(token.ptr())) {
        throw py::type_error("token " + std::to_string(index) + " is " + type_name(token) + "; expected str");
      }
      std::vector<py::object> keep;
      ids_.get_or_insert(utf8_view(token.ptr(), keep), static_cast<int32_t>(index));
    }
  }

  size_t size() const { return ids_.size(); }
  int64_t unknown_id() const { return unknown_id_; }

  int64_t lookup(py::handle token) const {
    if (!PyUnicode_Check(token.ptr())) throw py::type_error("expected str, got " + type_name(token));
    std::vector<py::object> keep;
    return id_of(utf8_view(token.ptr(), keep));
  }

  py::tuple index_batch(py::handle items, bool lowercase, std::optional<long> max_length, int64_t bos_id,
                        int64_t eos_id) const {
    const long limit = read_limit(max_length, "max_length");
    Batch batch = read_batch(items);
    const size_t rows = batch.items.size();
    std::vector<int32_t> flat;
    std::vector<size_t> ends(rows);
    size_t width = 1;
    {
      py::gil_scoped_release release;
      std::string scratch;
      RowTokens row;
      flat.reserve(batch.views.size() * 16);
      for (size_t i = 0; i < rows; ++i) {
        const size_t start = flat.size();
        if (bos_id >= 0) flat.push_back(static_cast<int32_t>(bos_id));
        row.clear();
        for_each_item_token(batch, i, lowercase, limit, scratch,
                            [&](std::string_view token) { row.add(token, scratch); });
        for (const auto& key : row.keys(ids_)) {
          const int32_t* id = ids_.find(key);
          flat.push_back(id != nullptr ? *id : static_cast<int32_t>(unknown_id_));
        }
        if (eos_id >= 0) flat.push_back(static_cast<int32_t>(eos_id));
        ends[i] = flat.size();
        width = std::max(width, flat.size() - start);
      }
    }
    py::array_t<int32_t> ids({rows, width});
    py::array_t<bool> mask({rows, width});
    int32_t* id_data = ids.mutable_data();
    bool* mask_data = mask.mutable_data();
    {
      py::gil_scoped_release release;
      std::memset(id_data, 0, rows * width * sizeof(int32_t));
      std::memset(mask_data, 0, rows * width * sizeof(bool));
      size_t start = 0;
      for (size_t i = 0; i < rows; ++i) {
        const size_t length = ends[i] - start;
        std::memcpy(id_data + i * width, flat.data() + start, length * sizeof(int32_t));
        std::memset(mask_data + i * width, 1, length);
        start = ends[i];
      }
    }
    return py::make_tuple(ids, mask);
  }

  py::tuple index_characters(py::handle items, bool lowercase, std::optional<long> max_length,
                             std::optional<long> max_characters, int64_t bos_id, int64_t eos_id) const {
    const long token_limit = read_limit(max_length, "max_length");
    const long char_limit = read_limit(max_characters, "max_characters");
    Batch batch = read_batch(items);
    const size_t rows = batch.items.size();
    std::vector<int32_t> chars;          // character ids of all tokens, in order
    std::vector<uint32_t> token_sizes;   // characters kept per token
    std::vector<size_t> tokens_per_row(rows);
    size_t width = 1, depth = 1;
    {
      py::gil_scoped_release release;
      std::string scratch;
      auto add_single = [&](int64_t id) {
        chars.push_back(static_cast<int32_t>(id));
        token_sizes.push_back(1);
      };
      for (size_t i = 0; i < rows; ++i) {
        const size_t first_token = token_sizes.size();
        if (bos_id >= 0) add_single(bos_id);
        for_each_item_token(batch, i, lowercase, token_limit, scratch, [&](std::string_view token) {
          uint32_t kept = 0;
          if (char_limit != 0) {
            for_each_code_point(token, [&](std::string_view character) {
              chars.push_back(static_cast<int32_t>(id_of(character)));
              return ++kept != char_limit;
            });
          }
          token_sizes.push_back(kept);
          depth = std::max<size_t>(depth, kept);
        });
        if (eos_id >= 0) add_single(eos_id);
        tokens_per_row[i] = token_sizes.size() - first_token;
        width = std::max(width, tokens_per_row[i]);
      }
    }
    py::array_t<int32_t> ids({rows, width, depth});
    py::array_t<bool> mask({rows, width, depth});
    int32_t* id_data = ids.mutable_data();
    bool* mask_data = mask.mutable_data();
    {
      py::gil_scoped_release release;
      std::memset(id_data, 0, rows * width * depth * sizeof(int32_t));
      std::memset(mask_data, 0, rows * width * depth * sizeof(bool));
      size_t token = 0, offset = 0;
      for (size_t i = 0; i < rows; ++i) {
        for (size_t slot = 0; slot < tokens_per_row[i]; ++slot, ++token) {
          const size_t at = (i * width + slot) * depth;
          std::memcpy(id_data + at, chars.data() + offset, token_sizes[token] * sizeof(int32_t));
          std::memset(mask_data + at, 1, token_sizes[token]);
          offset += token_sizes[token];
        }
      }
    }
    return py::make_tuple(ids, mask);
  }

 private:
  int64_t id_of(std::string_view token) const {
    const int32_t* id = ids_.find(token);
    return id != nullptr ? *id : unknown_id_;
  }

  StringTable<int32_t> ids_;
  int64_t unknown_id_;
};

py::str lower_code_point(uint32_t cp) {
  if (cp > 0x10FFFF) throw py::value_error("code point out of range: " + std::to_string(cp));
  std::string bytes, scratch;
  append_utf8(cp, bytes);
  return to_python(lower_token(bytes, scratch));
}

}  // namespace

PYBIND11_MODULE(_text_native, m) {
  m.doc() = "Compiled twin of formed.data._text_reference: tokenizing, counting and indexing text.";
  m.attr("IMPLEMENTATION") = "native";
  m.attr("UNICODE_VERSION") = fu::kUnicodeVersion;
  m.def("char_class", [](uint32_t cp) { return char_class(cp); }, py::arg("code_point"),
        "The class of one code point: 0 word, 1 space, 2 punctuation or symbol.");
  m.def("lower_code_point", &lower_code_point, py::arg("code_point"), "What lower-casing makes of one code point.");
  m.def("tokenize", &tokenize, py::arg("text"), py::arg("lowercase") = false, py::arg("max_length") = py::none(),
        "Splits a text into tokens.");
  m.def("count_tokens", &count_tokens, py::arg("items"), py::arg("lowercase") = false,
        "{token: occurrences} over all items (no truncation).");
  m.def("count_characters", &count_characters, py::arg("items"), py::arg("lowercase") = false,
        "{code point as str: occurrences} over the tokens of all items (no truncation).");
  py::class_<TokenIndex>(m, "TokenIndex", "A frozen token -> id map; unknown tokens get unknown_id.")
      .def(py::init<py::handle, int64_t>(), py::arg("tokens"), py::arg("unknown_id"))
      .def("__len__", &TokenIndex::size)
      .def_property_readonly("unknown_id", &TokenIndex::unknown_id)
      .def("lookup", &TokenIndex::lookup, py::arg("token"))
      .def("index_batch", &TokenIndex::index_batch, py::arg("items"), py::arg("lowercase") = false,
           py::arg("max_length") = py::none(), py::arg("bos_id") = -1, py::arg("eos_id") = -1)
      .def("index_characters", &TokenIndex::index_characters, py::arg("items"), py::arg("lowercase") = false,
           py::arg("max_length") = py::none(), py::arg("max_characters") = py::none(), py::arg("bos_id") = -1,
           py::arg("eos_id") = -1);
}
