// CLIP tokenizer acceptance: every reference case in shared/clip/tokenizer_cases.json, plus non-ASCII and
// cleaning cases whose ids were derived by hand from the algorithm and the vocabulary (derivations below),
// the HuggingFace vocab.json + merges.txt path, truncation, and the text-cleaning primitives.
//
// How the expected ids were derived. Vocabulary ids: 0..255 are the byte symbols in bytes_to_unicode()
// order (bytes 0x21..0x7E -> 0..93, 0xA1..0xAC -> 94..105, 0xAE..0xFF -> 106..187, then the others
// 0x00..0x20 -> 188..220, 0x7F..0xA0 -> 221..254, 0xAD -> 255); 256..511 the same symbols with "</w>";
// the merge on line n of the .gz file (line 1 is the header) gives id 512 + (n - 2); 49406/49407 specials.
// A piece's bytes become symbols (the last one with "</w>") and the lowest-ranked adjacent pair is merged
// until none applies. The merge chains (rank = line - 2), looked up in bpe_simple_vocab_16e6.txt.gz:
//   "café"  = c a f Ã ©</w>: (a,f) r190 -> (c,af) r2959 -> (Ã,©</w>) r3654 -> (caf,Ã©</w>) r14792 => 15304
//   "héllo" = h Ã © l l o</w>: (l,l) r1145, (Ã,©) r2947, (ll,o</w>) r18781; no merge joins h+Ã© or
//             Ã©+llo</w> => [h=71, Ã©=512+2947=3459, llo</w>=512+18781=19293]
//   "naïve" = n a Ã ¯ v e</w>: (v,e</w>) r51, (n,a) r585, (Ã,¯) r35177, nothing further
//             => [na=1097, Ã¯=35689, ve</w>=563]
//   "日本"  = UTF-8 e6 97 a5 e6 9c ac = æ Ĺ ¥ æ ľ ¬</w>: (æ,ľ) r18765, (æ,Ĺ) r21753, (æĹ,¥) r38609
//             => [æĹ¥=39121, æľ=19277, ¬</w>=256+105=361]
//   "😀"    = f0 9f 98 80 = ð Ł ĺ Ģ</w>: (ð,Ł) r46, (ðŁ,ĺ) r156, (ðŁĺ,Ģ</w>) r6822 => 7334. An emoji is
//             neither \p{L} nor \p{N}, so it forms its own [^\s\p{L}\p{N}]+ piece.
//   "they"  = t h e y</w>: (t,h) r1, (th,e) r87, (the,y</w>) r377 => 889
//   "'re"   = ' r e</w>: (r,e</w>) r298, (',re</w>) r470 => 982      "hi" = (h,i</w>) r1371 => 1883
//   "abc"   = (a,b) r84, (ab,c</w>) r4822 => 5334                     "it" => 585, "'s" => 568
//   single symbols: '"'</w> = 0x22 -> 1 + 256 = 257; '&'</w> = 0x26 -> 5 + 256 = 261; digits '0'..'9' are
//   bytes 0x30.. -> 15.. so "2" = 273, "0" = 271, "4" = 275 (\p{N} pieces are single characters).
//   "οδος" = ce bf ce b4 ce bf cf 82: no merge in the vocabulary joins these bytes, so the ids are the byte
//             symbols: ce -> 106 + 0x20 = 138, bf -> 123, b4 -> 112, cf -> 139, 82</w> -> 221 + 3 + 256 =
//             480. A non-final sigma (cf 83) would end in 481 instead.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "fergan/clip/text_clean.h"
#include "fergan/clip/tokenizer.h"
#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"

using fergan::clip::Tokenizer;
using Ids = std::vector<int64_t>;

namespace {

std::string shared_dir() {
  const char* s = std::getenv("FERGAN_SHARED_DIR");
  return s ? s : "../shared";
}

const Tokenizer& tokenizer() {
  static const Tokenizer t = Tokenizer::from_file(shared_dir() + "/clip/bpe_simple_vocab_16e6.txt.gz");
  return t;
}

Ids framed(Ids body) {
  body.insert(body.begin(), 49406);
  body.push_back(49407);
  return body;
}

std::u32string u32(const std::string& s) {
  return fergan::clip::utf8_to_u32(s);
}

}  // namespace

TEST(ClipTokenizer, EveryReferenceCase) {
  const auto cases =
      nlohmann::json::parse(fergan::fs::read_file(shared_dir() + "/clip/tokenizer_cases.json"));
  ASSERT_EQ(cases["sot"], 49406);
  ASSERT_EQ(cases["eot"], 49407);
  EXPECT_EQ(tokenizer().vocab_size(), cases["vocab_size"].get<int64_t>());
  ASSERT_GE(cases["cases"].size(), 25u);
  for (const auto& c : cases["cases"]) {
    const auto text = c["text"].get<std::string>();
    const auto expected = c["ids"].get<Ids>();
    EXPECT_EQ(tokenizer().encode(text), expected) << "text: \"" << text << "\"";
    const Ids body(expected.begin() + 1, expected.end() - 1);
    EXPECT_EQ(tokenizer().decode(body), c["decoded"].get<std::string>()) << text;
  }
}

TEST(ClipTokenizer, TinyModelCaptions) {
  // meta.json's captions and the tokens OpenAI's tokenizer gave them (first 16 columns).
  const auto meta = nlohmann::json::parse(fergan::fs::read_file(shared_dir() + "/clip/tiny/meta.json"));
  const auto captions = meta["captions"].get<std::vector<std::string>>();
  auto tokens = tokenizer().tokenize(captions);
  ASSERT_EQ(tokens.sizes(), (std::vector<int64_t>{8, 77}));
  for (size_t i = 0; i < captions.size(); ++i) {
    const auto expected = meta["tokens"][i].get<Ids>();
    for (size_t j = 0; j < expected.size(); ++j)
      EXPECT_EQ(tokens[i][j].item<int64_t>(), expected[j]) << i << "," << j;
    EXPECT_EQ(tokens[i].narrow(0, 16, 61).abs().sum().item<int64_t>(), 0) << "padding of caption " << i;
  }
}

TEST(ClipTokenizer, Accents) {
  EXPECT_EQ(tokenizer().encode("café"), framed({15304}));
  EXPECT_EQ(tokenizer().encode("CAFÉ"), framed({15304}));          // lower-casing of É
  EXPECT_EQ(tokenizer().encode("cafe\xCC\x81"), framed({15304}));  // e + U+0301, composed by NFC
  EXPECT_EQ(tokenizer().encode("héllo"), framed({71, 3459, 19293}));
  EXPECT_EQ(tokenizer().encode("Naïve"), framed({1097, 35689, 563}));
}

TEST(ClipTokenizer, CjkAndEmoji) {
  EXPECT_EQ(tokenizer().encode("日本"), framed({39121, 19277, 361}));
  EXPECT_EQ(tokenizer().encode("😀"), framed({7334}));
  EXPECT_EQ(tokenizer().encode("hi 😀"), framed({1883, 7334}));
  EXPECT_EQ(tokenizer().encode("hi😀"), framed({1883, 7334}));  // letters then a non-letter piece
}

TEST(ClipTokenizer, DigitsAreSingleCharacterPieces) {
  EXPECT_EQ(tokenizer().encode("2024"), framed({273, 271, 273, 275}));
  EXPECT_EQ(tokenizer().encode("abc2"), framed({5334, 273}));
}

TEST(ClipTokenizer, Apostrophes) {
  EXPECT_EQ(tokenizer().encode("they're"), framed({889, 982}));
  EXPECT_EQ(tokenizer().encode("THEY'RE"), framed({889, 982}));
  EXPECT_EQ(tokenizer().encode("they\xE2\x80\x99re"), framed({889, 982}));  // U+2019, uncurled as ftfy does
  EXPECT_EQ(tokenizer().encode("it's"), framed({585, 568}));
  EXPECT_EQ(tokenizer().encode("'"), framed({262}));
}

TEST(ClipTokenizer, HtmlEntities) {
  EXPECT_EQ(tokenizer().encode("&quot;hi&quot;"), framed({257, 1883, 257}));
  EXPECT_EQ(tokenizer().encode("&amp;amp;"), framed({261}));  // unescaped twice
  EXPECT_EQ(tokenizer().encode("it&#39;s"), framed({585, 568}));
  EXPECT_EQ(tokenizer().encode("it&#x27;s"), framed({585, 568}));
  EXPECT_EQ(tokenizer().encode("caf&eacute;"), framed({15304}));
  EXPECT_EQ(tokenizer().encode("&amphi"), framed({261, 1883}));  // legacy "&amp" without ';' + "hi"
}

TEST(ClipTokenizer, WhitespaceRuns) {
  EXPECT_EQ(tokenizer().encode("  hi \t\n  hi  "), framed({1883, 1883}));
  EXPECT_EQ(tokenizer().encode("hi\xC2\xA0\xC2\xA0hi"), framed({1883, 1883}));  // no-break spaces
  EXPECT_EQ(tokenizer().encode("hi\xE3\x80\x80hi"), framed({1883, 1883}));      // ideographic space
  EXPECT_EQ(tokenizer().encode(" \t\n"), framed({}));
}

TEST(ClipTokenizer, UnicodeLowerCase) {
  EXPECT_EQ(tokenizer().encode("ΟΔΟΣ"), framed({138, 123, 138, 112, 138, 123, 139, 480}));  // final sigma
  EXPECT_EQ(tokenizer().encode("ＨＩ"), framed({1883}));  // fullwidth letters (ftfy width fix), then lower
}

TEST(ClipTokenizer, ContextLengthAndTruncation) {
  std::string long_text;
  for (int i = 0; i < 80; ++i) long_text += "a ";
  try {
    tokenizer().encode(long_text);
    FAIL() << "expected an error";
  } catch (const fergan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("too long"), std::string::npos) << e.what();
  }
  const auto ids = tokenizer().encode(long_text, /*truncate=*/true);
  ASSERT_EQ(ids.size(), 77u);
  EXPECT_EQ(ids.front(), 49406);
  EXPECT_EQ(ids.back(), 49407);
  for (size_t i = 1; i < 76; ++i) EXPECT_EQ(ids[i], 320);  // "a"
  std::string exact;                                       // 75 pieces + 2 specials = 77: fits
  for (int i = 0; i < 75; ++i) exact += "a ";
  EXPECT_EQ(tokenizer().encode(exact).size(), 77u);
  EXPECT_THROW(tokenizer().tokenize({"fine", long_text}), fergan::Error);
}

TEST(ClipTokenizer, PreTokenization) {
  using V = std::vector<std::string>;
  // At "!" no contraction applies, so [^\s\p{L}\p{N}]+ takes "!!'" greedily; "s" then is a letter run.
  EXPECT_EQ(fergan::clip::pretokenize(u32("hello!!'s 12ab")), (V{"hello", "!!'", "s", "1", "2", "ab"}));
  EXPECT_EQ(fergan::clip::pretokenize(u32("don't'll'x")), (V{"don", "'t", "'ll", "'", "x"}));
  EXPECT_EQ(fergan::clip::pretokenize(u32("<|endoftext|>a<|startoftext|>")),
            (V{"<|endoftext|>", "a", "<|startoftext|>"}));
  EXPECT_EQ(fergan::clip::pretokenize(u32("日本語テキスト")), (V{"日本語テキスト"}));  // one \p{L} run
  EXPECT_EQ(fergan::clip::pretokenize(u32("x²")), (V{"x", "²"}));  // superscript two is \p{N}
  EXPECT_EQ(tokenizer().encode("<|endoftext|>"), framed({49407}));
}

TEST(ClipTokenizer, HtmlUnescapeMatchesPython) {
  using fergan::clip::html_unescape;
  auto unescape = [](const std::string& s) { return fergan::clip::u32_to_utf8(html_unescape(u32(s))); };
  // Expected values from CPython's html.unescape semantics (Lib/html/__init__.py).
  EXPECT_EQ(unescape("&lt;&GT;&amp"), "<>&");
  EXPECT_EQ(unescape("&#65&#x42;&#X43;"), "ABC");
  EXPECT_EQ(unescape("&#0;"), "\xEF\xBF\xBD");      // U+FFFD
  EXPECT_EQ(unescape("&#x80;"), "\xE2\x82\xAC");    // Windows-1252: euro sign
  EXPECT_EQ(unescape("&#xD800;"), "\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(unescape("a&#1;b"), "ab");              // invalid code point vanishes
  EXPECT_EQ(unescape("&notin;&notit;"), "\xE2\x88\x89\xC2\xACit;");
  EXPECT_EQ(unescape("&bogus; & &#; &#xZ;"), "&bogus; & &#; &#xZ;");
  EXPECT_EQ(unescape("&eacute&Eacute;"), "\xC3\xA9\xC3\x89");
}

TEST(ClipTokenizer, TextCleaning) {
  using fergan::clip::clean_text;
  using fergan::clip::u32_to_utf8;
  EXPECT_EQ(u32_to_utf8(clean_text("  Hello\t\tWORLD  ")), "hello world");
  EXPECT_EQ(u32_to_utf8(clean_text("\xEF\xAC\x81le")), "file");  // U+FB01 ligature
  EXPECT_EQ(u32_to_utf8(clean_text("\xC4\xB0")), "i\xCC\x87");   // İ lower-cases to i + U+0307
  EXPECT_EQ(u32_to_utf8(clean_text("ΣΑΣ ΣΑ")), "σας σα");
  EXPECT_THROW(clean_text("bad \xC3"), fergan::Error);
  EXPECT_THROW(clean_text("bad \xC0\xAF"), fergan::Error);  // overlong
}

TEST(ClipTokenizer, HuggingFaceVocabJsonAndMerges) {
  // Write vocab.json + merges.txt the way HuggingFace's CLIPTokenizer files look, from the .gz independently
  // of the tokenizer: the byte alphabet, the same with </w>, one entry per merge, the two specials.
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<char32_t> cs(bs.begin(), bs.end());
  for (int b = 0, n = 0; b < 256; ++b)
    if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
      bs.push_back(b);
      cs.push_back(256 + n++);
    }
  std::vector<std::string> vocab;
  for (char32_t c : cs) vocab.push_back(fergan::clip::u32_to_utf8(std::u32string(1, c)));
  for (size_t i = 0; i < 256; ++i) vocab.push_back(vocab[i] + "</w>");
  const auto dir = std::filesystem::temp_directory_path() / ("fergan_hf_tok_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  {
    // The merges: decompress with gzip(1) into merges.txt (its first line is a header, as HF's "#version").
    const std::string cmd = "gzip -dc '" + shared_dir() + "/clip/bpe_simple_vocab_16e6.txt.gz' > '" +
                            (dir / "merges.txt").string() + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  std::ifstream merges(dir / "merges.txt");
  std::string line;
  std::getline(merges, line);
  for (int i = 0; i < 49152 - 256 - 2 && std::getline(merges, line); ++i) {
    const auto space = line.find(' ');
    vocab.push_back(line.substr(0, space) + line.substr(space + 1));
  }
  vocab.push_back("<|startoftext|>");
  vocab.push_back("<|endoftext|>");
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < vocab.size(); ++i) j[vocab[i]] = i;
  std::ofstream((dir / "vocab.json").string()) << j.dump();
  const auto hf = Tokenizer::from_file(dir.string());
  EXPECT_EQ(hf.vocab_size(), 49408);
  const auto cases =
      nlohmann::json::parse(fergan::fs::read_file(shared_dir() + "/clip/tokenizer_cases.json"));
  for (const auto& c : cases["cases"])
    EXPECT_EQ(hf.encode(c["text"].get<std::string>()), c["ids"].get<Ids>()) << c["text"];
  EXPECT_EQ(hf.encode("café 日本 😀"), framed({15304, 39121, 19277, 361, 7334}));
  std::filesystem::remove_all(dir);
}

TEST(ClipTokenizer, BadVocabularyFilesAreErrors) {
  EXPECT_THROW(Tokenizer::from_file("/nonexistent/bpe.txt.gz"), fergan::Error);
  const auto dir = std::filesystem::temp_directory_path() / ("fergan_bad_tok_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream((dir / "vocab.json").string()) << "{\"a\": 0}";
  std::ofstream((dir / "merges.txt").string()) << "#version: 0.2\na b\n";
  try {
    Tokenizer::from_file((dir / "vocab.json").string());
    FAIL() << "expected an error";
  } catch (const fergan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("vocab.json"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}
