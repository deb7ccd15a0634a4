// Unicode primitives for the CLIP tokenizer (see text_clean.h): UTF-8 codec, the \p{L} / \p{N} / \s classes,
// Python's str.lower() and NFC composition, all driven by the generated tables in unicode_tables.cpp.
#include <algorithm>
#include <vector>

#include "fergan/clip/text_clean.h"
#include "fergan/core/check.h"
#include "unicode_tables.h"

namespace fergan::clip {
namespace {

using namespace tables;

bool in_ranges(const CodeRange* ranges, size_t n, char32_t c) {
  const CodeRange* end = ranges + n;
  auto it = std::upper_bound(ranges, end, c, [](char32_t v, const CodeRange& r) { return v < r.first; });
  return it != ranges && c <= (it - 1)->last;
}

template <typename T>
const T* find_code(const T* table, size_t n, char32_t c) {
  auto it = std::lower_bound(table, table + n, c, [](const T& e, char32_t v) { return e.code < v; });
  return (it != table + n && it->code == c) ? it : nullptr;
}

uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  auto e = find_code(kCombiningClass, kCombiningClass_size, c);
  return e ? e->ccc : 0;
}

bool is_cased(char32_t c) {
  return in_ranges(kCased, kCased_size, c);
}
bool is_case_ignorable(char32_t c) {
  return in_ranges(kCaseIgnorable, kCaseIgnorable_size, c);
}

// Hangul syllables decompose and compose algorithmically (Unicode 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr int kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
              kSCount = kLCount * kNCount;

void decompose(char32_t c, std::u32string& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    const int s = static_cast<int>(c - kSBase);
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (c >= 0xC0) {
    if (auto e = find_code(kDecomposition, kDecomposition_size, c)) {
      for (char32_t d : e->nfd)
        if (d) out.push_back(d);
      return;
    }
  }
  out.push_back(c);
}

char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const Composition* end = kComposition + kComposition_size;
  auto it = std::lower_bound(kComposition, end, std::make_pair(a, b), [](const Composition& e, auto key) {
    return std::make_pair(e.first, e.second) < key;
  });
  return (it != end && it->first == a && it->second == b) ? it->composed : 0;
}

}  // namespace

std::u32string utf8_to_u32(const std::string& text) {
  std::u32string out;
  out.reserve(text.size());
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  for (size_t i = 0; i < n;) {
    const unsigned char b = s[i];
    int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    FG_CHECK(len > 0 && i + len <= n, "text is not valid UTF-8 (byte ", i, " of \"", text, "\")");
    char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < len; ++k) {
      FG_CHECK((s[i + k] & 0xC0) == 0x80, "text is not valid UTF-8 (byte ", i + k, " of \"", text, "\")");
      c = (c << 6) | (s[i + k] & 0x3F);
    }
    const char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    FG_CHECK(c >= min_for_len[len] && c <= 0x10FFFF && !(c >= 0xD800 && c <= 0xDFFF),
             "text is not valid UTF-8 (overlong or surrogate at byte ", i, " of \"", text, "\")");
    out.push_back(c);
    i += len;
  }
  return out;
}

std::string u32_to_utf8(const std::u32string& text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (c >> 12)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (c >> 18)));
      out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  return in_ranges(kLetter, kLetter_size, c);
}
bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return in_ranges(kNumber, kNumber_size, c);
}
bool is_regex_space(char32_t c) {
  // Unicode White_Space (the `regex` module's \s); unlike str.isspace() it excludes U+001C..U+001F.
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}
bool is_python_space(char32_t c) {
  return in_ranges(kPySpace, kPySpace_size, c);
}

std::u32string to_lower(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char32_t c = text[i];
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else if (c == 0x3A3) {
      // CPython's handle_capital_sigma: final sigma when preceded by a cased letter (skipping
      // case-ignorables) and not followed by one.
      size_t j = i;
      while (j > 0 && is_case_ignorable(text[j - 1])) --j;
      bool final_sigma = j > 0 && is_cased(text[j - 1]);
      if (final_sigma) {
        size_t k = i + 1;
        while (k < text.size() && is_case_ignorable(text[k])) ++k;
        final_sigma = k == text.size() || !is_cased(text[k]);
      }
      out.push_back(final_sigma ? 0x3C2 : 0x3C3);
    } else if (auto e = find_code(kLower, kLower_size, c)) {
      for (char32_t l : e->lower)
        if (l) out.push_back(l);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string nfc(const std::u32string& text) {
  if (std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x300; })) {
    // Below U+0300 only Latin-1 and Latin Extended letters exist, all already composed, none combining.
    return text;
  }
  std::u32string d;
  d.reserve(text.size() + 8);
  for (char32_t c : text) decompose(c, d);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < d.size();) {
    if (combining_class(d[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < d.size() && combining_class(d[j]) != 0) ++j;
    std::stable_sort(d.begin() + i, d.begin() + j,
                     [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    i = j;
  }
  // Canonical composition: each character joins the last starter unless blocked.
  std::u32string out;
  out.reserve(d.size());
  long starter = -1;
  int last_cc = -1;  // combining class of the last character kept after the starter; -1: none
  for (char32_t c : d) {
    const int cc = combining_class(c);
    if (starter >= 0) {
      const bool blocked = last_cc != -1 && (last_cc == 0 || last_cc >= cc);
      if (!blocked) {
        if (char32_t composed = compose_pair(out[starter], c)) {
          out[starter] = composed;
          continue;
        }
      }
    }
    if (cc == 0) {
      starter = static_cast<long>(out.size());
      last_cc = -1;
    } else {
      last_cc = cc;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace fergan::clip
