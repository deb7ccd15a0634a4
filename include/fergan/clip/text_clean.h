// Text cleaning in front of the CLIP tokenizer, equal to OpenAI's simple_tokenizer.py:
//   basic_clean:      ftfy.fix_text (the subset below), html.unescape applied twice, strip
//   whitespace_clean: runs of \s (Unicode White_Space) -> one space, strip
//   then str.lower()  (full Unicode mappings from Python's database, including final sigma).
// Everything works on Unicode code points (std::u32string) so that non-ASCII text is handled like Python's
// str. The data (categories, case mappings, NFC, HTML5 entities) is generated from Python's unicodedata and
// html modules by src/clip/gen_unicode_tables.py, so no ICU dependency is needed.
//
// ftfy subset implemented (the fixes that change clean modern text): uncurl_quotes, fix_latin_ligatures,
// fix_character_width for fullwidth ASCII and the ideographic space, NFC normalisation. Not implemented:
// mojibake repair (fix_encoding) and ftfy's own extra HTML unescape; the reference tokenizer cases were
// produced with ftfy as identity.
#pragma once

#include <string>

namespace fergan::clip {

// UTF-8 <-> code points. Invalid UTF-8 is an error naming the offending byte offset.
std::u32string utf8_to_u32(const std::string& text);
std::string u32_to_utf8(const std::u32string& text);

// Character classes as used by CLIP's pre-tokenization regex (Python `regex` module semantics).
bool is_letter(char32_t c);        // \p{L}
bool is_number(char32_t c);        // \p{N}
bool is_regex_space(char32_t c);   // \s  (Unicode White_Space)
bool is_python_space(char32_t c);  // str.isspace(), what str.strip() removes

// Python's str.lower().
std::u32string to_lower(const std::u32string& text);
// Unicode canonical composition (NFC).
std::u32string nfc(const std::u32string& text);
// Python's html.unescape(): HTML5 named entities (incl. legacy ones without ';'), decimal and hex references.
std::u32string html_unescape(const std::u32string& text);
// The ftfy subset described above.
std::u32string ftfy_subset(const std::u32string& text);

// The full CLIP cleaning: whitespace_clean(basic_clean(text)).lower().
std::u32string clean_text(const std::string& utf8_text);

}  // namespace fergan::clip
