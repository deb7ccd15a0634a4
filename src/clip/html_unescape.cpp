// Python's html.unescape() over code points (see text_clean.h). CLIP applies it twice to every caption, so
// "&amp;lt;" becomes "<". Follows CPython's Lib/html/__init__.py exactly: the pattern
//   &(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)
// the HTML5 entity table (names with and without ';'), longest-prefix matching for legacy names
// ("&ampx" -> "&x"), the Windows-1252 remapping of C1 references and the invalid code points that vanish.
#include <algorithm>
#include <string>
#include <unordered_map>

#include "fergan/clip/text_clean.h"
#include "unicode_tables.h"

namespace fergan::clip {
namespace {

using namespace tables;

const std::unordered_map<std::string, std::u32string>& entities() {
  static const auto* map = [] {
    auto* m = new std::unordered_map<std::string, std::u32string>();
    for (size_t i = 0; i < kHtml5Entities_size; ++i)
      (*m)[kHtml5Entities[i].name] = utf8_to_u32(kHtml5Entities[i].value);
    return m;
  }();
  return *map;
}

bool is_digit(char32_t c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char32_t c) {
  return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}
int hex_value(char32_t c) {
  return is_digit(c) ? static_cast<int>(c - '0') : static_cast<int>((c | 0x20) - 'a' + 10);
}

// chr() of a numeric reference, with html.unescape's replacements. `num` saturates above 0x10FFFF.
void append_numeric(uint64_t num, std::u32string& out) {
  for (size_t i = 0; i < kInvalidCharrefs_size; ++i)
    if (kInvalidCharrefs[i].number == num) {
      out.push_back(kInvalidCharrefs[i].replacement);
      return;
    }
  if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) {
    out.push_back(0xFFFD);
    return;
  }
  for (size_t i = 0; i < kInvalidCodepoints_size; ++i)
    if (num >= kInvalidCodepoints[i].first && num <= kInvalidCodepoints[i].last) return;
  out.push_back(static_cast<char32_t>(num));
}

bool excluded_from_name(char32_t c) {
  return c == '\t' || c == '\n' || c == '\f' || c == ' ' || c == '<' || c == '&' || c == '#' || c == ';';
}

}  // namespace

std::u32string html_unescape(const std::u32string& s) {
  if (s.find(U'&') == std::u32string::npos) return s;
  std::u32string out;
  out.reserve(s.size());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    if (s[i] != '&') {
      out.push_back(s[i++]);
      continue;
    }
    size_t p = i + 1;
    // Numeric: decimal, then hexadecimal.
    if (p < n && s[p] == '#') {
      uint64_t num = 0;
      size_t q = p + 1;
      bool matched = false;
      if (q < n && is_digit(s[q])) {
        while (q < n && is_digit(s[q])) num = std::min<uint64_t>(num * 10 + (s[q++] - '0'), 0x7FFFFFFF);
        matched = true;
      } else if (q + 1 < n && (s[q] == 'x' || s[q] == 'X') && is_hex(s[q + 1])) {
        ++q;
        while (q < n && is_hex(s[q])) num = std::min<uint64_t>(num * 16 + hex_value(s[q++]), 0x7FFFFFFF);
        matched = true;
      }
      if (matched) {
        if (q < n && s[q] == ';') ++q;
        append_numeric(num, out);
        i = q;
        continue;
      }
      out.push_back(s[i++]);  // "&#" with nothing numeric: not a reference
      continue;
    }
    // Named: 1..32 name characters, then an optional ';'.
    size_t q = p;
    while (q < n && q - p < 32 && !excluded_from_name(s[q])) ++q;
    if (q == p) {
      out.push_back(s[i++]);
      continue;
    }
    if (q < n && s[q] == ';') ++q;
    const std::u32string name(s.begin() + p, s.begin() + q);
    const std::string key = u32_to_utf8(name);
    const auto& table = entities();
    auto it = table.find(key);
    if (it != table.end()) {
      out += it->second;
    } else {
      bool found = false;
      for (size_t x = name.size() - 1; x > 1; --x) {
        auto prefix = table.find(u32_to_utf8(name.substr(0, x)));
        if (prefix != table.end()) {
          out += prefix->second;
          out += name.substr(x);
          found = true;
          break;
        }
      }
      if (!found) {
        out.push_back('&');
        out += name;
      }
    }
    i = q;
  }
  return out;
}

}  // namespace fergan::clip
