// Declarations of the generated Unicode / HTML5 tables (unicode_tables.cpp, made by gen_unicode_tables.py).
// Private to the CLIP library: the tokenizer's text cleaning is the only user.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fergan::clip::tables {

struct CodeRange {
  char32_t first, last;  // inclusive
};
struct LowerMapping {
  char32_t code;
  char32_t lower[3];  // zero-padded (str.lower() can produce up to 3 code points)
};
struct CombiningClass {
  char32_t code;
  uint8_t ccc;
};
struct Decomposition {
  char32_t code;
  char32_t nfd[4];  // full canonical decomposition, zero-padded
};
struct Composition {
  char32_t first, second, composed;  // sorted by (first, second)
};
struct HtmlEntity {
  const char* name;   // as in Python's html.entities.html5, e.g. "amp;" or legacy "amp"
  const char* value;  // UTF-8
};
struct InvalidCharref {
  uint32_t number;
  char32_t replacement;
};

#define FG_TABLE(type, name) \
  extern const type name[];  \
  extern const size_t name##_size;
FG_TABLE(CodeRange, kLetter)
FG_TABLE(CodeRange, kNumber)
FG_TABLE(CodeRange, kPySpace)
FG_TABLE(CodeRange, kCased)
FG_TABLE(CodeRange, kCaseIgnorable)
FG_TABLE(LowerMapping, kLower)
FG_TABLE(CombiningClass, kCombiningClass)
FG_TABLE(Decomposition, kDecomposition)
FG_TABLE(Composition, kComposition)
FG_TABLE(HtmlEntity, kHtml5Entities)
FG_TABLE(InvalidCharref, kInvalidCharrefs)
FG_TABLE(CodeRange, kInvalidCodepoints)
#undef FG_TABLE

}  // namespace fergan::clip::tables
