// CLIP's caption cleaning pipeline (see text_clean.h): the ftfy subset, html.unescape twice, strip,
// whitespace folding and lower-casing, in the order of OpenAI's simple_tokenizer.encode().
#include "fergan/clip/text_clean.h"

namespace fergan::clip {
namespace {

std::u32string strip_python_space(const std::u32string& s) {
  size_t b = 0, e = s.size();
  while (b < e && is_python_space(s[b])) ++b;
  while (e > b && is_python_space(s[e - 1])) --e;
  return s.substr(b, e - b);
}

// ftfy.fixes.fix_latin_ligatures's table.
const char32_t* latin_ligature(char32_t c) {
  switch (c) {
    case 0x132:
      return U"IJ";
    case 0x133:
      return U"ij";
    case 0x149:
      return U"\u02BCn";
    case 0x1F1:
      return U"DZ";
    case 0x1F2:
      return U"Dz";
    case 0x1F3:
      return U"dz";
    case 0x1C4:
      return U"D\u017D";
    case 0x1C5:
      return U"D\u017E";
    case 0x1C6:
      return U"d\u017E";
    case 0x1C7:
      return U"LJ";
    case 0x1C8:
      return U"Lj";
    case 0x1C9:
      return U"lj";
    case 0x1CA:
      return U"NJ";
    case 0x1CB:
      return U"Nj";
    case 0x1CC:
      return U"nj";
    case 0xFB00:
      return U"ff";
    case 0xFB01:
      return U"fi";
    case 0xFB02:
      return U"fl";
    case 0xFB03:
      return U"ffi";
    case 0xFB04:
      return U"ffl";
    case 0xFB05:
      return U"\u017Ft";
    case 0xFB06:
      return U"st";
    default:
      return nullptr;
  }
}

}  // namespace

std::u32string ftfy_subset(const std::u32string& text) {
  std::u32string out;
  out.reserve(text.size());
  bool ascii = true;
  for (char32_t c : text) {
    if (c < 0x80) {
      out.push_back(c);
      continue;
    }
    ascii = false;
    if (const char32_t* lig = latin_ligature(c)) {
      out += lig;
    } else if (c >= 0xFF01 && c <= 0xFF5E) {
      out.push_back(c - 0xFEE0);  // fullwidth ASCII -> ASCII (fix_character_width)
    } else if (c == 0x3000) {
      out.push_back(' ');  // ideographic space
    } else if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) {
      out.push_back('\'');  // uncurl_quotes
    } else if (c >= 0x201C && c <= 0x201F) {
      out.push_back('"');
    } else {
      out.push_back(c);
    }
  }
  return ascii ? out : nfc(out);
}

std::u32string clean_text(const std::string& utf8_text) {
  std::u32string s = ftfy_subset(utf8_to_u32(utf8_text));
  s = strip_python_space(html_unescape(html_unescape(s)));
  // re.sub(r"\s+", " ", text): every maximal run of White_Space becomes one space.
  std::u32string folded;
  folded.reserve(s.size());
  bool in_space_run = false;
  for (char32_t c : s) {
    const bool space = is_regex_space(c);
    if (!space)
      folded.push_back(c);
    else if (!in_space_run)
      folded.push_back(' ');
    in_space_run = space;
  }
  return to_lower(strip_python_space(folded));
}

}  // namespace fergan::clip
