// CLIP byte-level BPE tokenizer (see tokenizer.h).
//
// Symbols are handled as vocabulary ids rather than strings: every merge (a, b) produces the vocabulary entry
// a+b, so the BPE loop works on small integer vectors. Ids are canonicalised through the string -> id map
// (last entry wins, like Python's dict(zip(vocab, range))) so the result equals the string-based reference
// even if a vocabulary held a string twice.
#include "fergan/clip/tokenizer.h"

#include <zlib.h>

#include <nlohmann/json.hpp>

#include <climits>
#include <filesystem>
#include <mutex>
#include <unordered_map>

#include "fergan/clip/text_clean.h"
#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"

namespace fergan::clip {
namespace {

const char* const kSot = "<|startoftext|>";
const char* const kEot = "<|endoftext|>";
// Both OpenAI and HuggingFace keep merges lines [1, 49152 - 256 - 2 + 1) of the merges file.
constexpr size_t kMergesEnd = 49152 - 256 - 2 + 1;

// GPT-2 / CLIP bytes_to_unicode(): printable bytes stand for themselves, the others are shifted to 256+n.
// Returns, in the order of the Python dict (printable ones first), the pairs (byte, code point).
std::vector<std::pair<int, char32_t>> bytes_to_unicode() {
  std::vector<std::pair<int, char32_t>> out;
  std::vector<bool> printable(256, false);
  for (int b = '!'; b <= '~'; ++b) printable[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b) printable[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b) printable[b] = true;
  for (int b = 0; b < 256; ++b)
    if (printable[b]) out.emplace_back(b, static_cast<char32_t>(b));
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (!printable[b]) out.emplace_back(b, static_cast<char32_t>(256 + n++));
  return out;
}

std::string read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  FG_CHECK(f, "cannot open CLIP BPE vocabulary '", path, "'");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof(buf))) > 0) out.append(buf, n);
  int err = 0;
  const char* msg = gzerror(f, &err);
  const std::string error = (n < 0 || err < 0) ? std::string(msg ? msg : "?") : "";
  gzclose(f);
  FG_CHECK(error.empty(), "cannot read gzip file '", path, "': ", error);
  return out;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i)
    if (i == s.size() || s[i] == sep) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  return out;
}

bool starts_with(const std::u32string& s, size_t pos, const char* lit) {
  for (size_t k = 0; lit[k]; ++k)
    if (pos + k >= s.size() || s[pos + k] != static_cast<char32_t>(lit[k])) return false;
  return true;
}

}  // namespace

struct Tokenizer::Impl {
  std::vector<std::string> id_to_string;
  std::unordered_map<std::string, int64_t> string_to_id;
  int64_t byte_id[256];      // symbol of byte b inside a word
  int64_t byte_end_id[256];  // symbol of byte b ending a word ("</w>" attached)
  std::unordered_map<uint64_t, std::pair<int, int64_t>> merges;  // (a, b) -> (rank, merged id)
  int64_t sot = 0, eot = 0, context = 77;
  std::string source;
  mutable std::mutex cache_mutex;
  mutable std::unordered_map<std::string, std::vector<int64_t>> cache;

  static uint64_t key(int64_t a, int64_t b) {
    return (static_cast<uint64_t>(a) << 32) | static_cast<uint64_t>(b);
  }

  int64_t id_of(const std::string& s, const std::string& what) const {
    auto it = string_to_id.find(s);
    FG_CHECK(it != string_to_id.end(), "CLIP vocabulary '", source, "': ", what, " '", s,
             "' is not in the vocabulary");
    return it->second;
  }

  // Byte symbols, merges and special tokens, once id_to_string / string_to_id are filled.
  void finish(const std::vector<std::string>& merge_lines) {
    for (const auto& [b, cp] : bytes_to_unicode()) {
      const std::string sym = u32_to_utf8(std::u32string(1, cp));
      byte_id[b] = id_of(sym, "byte symbol");
      byte_end_id[b] = id_of(sym + "</w>", "byte symbol");
    }
    for (size_t rank = 0; rank < merge_lines.size(); ++rank) {
      const auto parts = split(merge_lines[rank], ' ');
      FG_CHECK(parts.size() == 2 && !parts[0].empty() && !parts[1].empty(), "CLIP vocabulary '", source,
               "': merge line ", rank + 2, " is not two symbols: '", merge_lines[rank], "'");
      const int64_t a = id_of(parts[0], "merge symbol"), b = id_of(parts[1], "merge symbol");
      merges[key(a, b)] = {static_cast<int>(rank), id_of(parts[0] + parts[1], "merge result")};
    }
    sot = id_of(kSot, "special token");
    eot = id_of(kEot, "special token");
    cache[kSot] = {sot};
    cache[kEot] = {eot};
  }

  std::vector<int64_t> bpe(const std::string& piece) const {
    {
      std::lock_guard<std::mutex> lock(cache_mutex);
      auto it = cache.find(piece);
      if (it != cache.end()) return it->second;
    }
    std::vector<int64_t> word;
    word.reserve(piece.size());
    for (size_t i = 0; i < piece.size(); ++i) {
      const auto b = static_cast<unsigned char>(piece[i]);
      word.push_back(i + 1 == piece.size() ? byte_end_id[b] : byte_id[b]);
    }
    std::vector<int64_t> merged;
    while (word.size() > 1) {
      int best_rank = INT_MAX;
      int64_t best_a = -1, best_b = -1, best_id = -1;
      for (size_t i = 0; i + 1 < word.size(); ++i) {
        auto it = merges.find(key(word[i], word[i + 1]));
        if (it != merges.end() && it->second.first < best_rank) {
          best_rank = it->second.first;
          best_a = word[i];
          best_b = word[i + 1];
          best_id = it->second.second;
        }
      }
      if (best_id < 0) break;
      merged.clear();
      for (size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == best_a && word[i + 1] == best_b) {
          merged.push_back(best_id);
          i += 2;
        } else {
          merged.push_back(word[i++]);
        }
      }
      word.swap(merged);
    }
    std::lock_guard<std::mutex> lock(cache_mutex);
    cache.emplace(piece, word);
    return word;
  }
};

std::vector<std::string> pretokenize(const std::u32string& s) {
  std::vector<std::string> pieces;
  const size_t n = s.size();
  auto is_other = [](char32_t c) { return !is_regex_space(c) && !is_letter(c) && !is_number(c); };
  for (size_t i = 0; i < n;) {
    size_t end = i;
    const char32_t c = s[i];
    if (starts_with(s, i, kSot)) {
      end = i + 15;
    } else if (starts_with(s, i, kEot)) {
      end = i + 13;
    } else if (c == '\'' && i + 1 < n) {
      // 's|'t|'re|'ve|'m|'ll|'d under re.IGNORECASE (text is lower-cased; U+017F long s folds to 's').
      const char32_t x = s[i + 1], y = i + 2 < n ? s[i + 2] : 0;
      if (x == 's' || x == 0x17F || x == 't' || x == 'm' || x == 'd')
        end = i + 2;
      else if ((x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l'))
        end = i + 3;
    }
    if (end == i) {
      if (is_letter(c)) {
        while (end < n && is_letter(s[end])) ++end;
      } else if (is_number(c)) {
        end = i + 1;
      } else if (is_other(c)) {
        while (end < n && is_other(s[end])) ++end;
      } else {
        ++i;  // whitespace separates pieces
        continue;
      }
    }
    pieces.push_back(u32_to_utf8(s.substr(i, end - i)));
    i = end;
  }
  return pieces;
}

Tokenizer Tokenizer::from_openai_bpe(const std::string& gz_path, int64_t context_length) {
  auto impl = std::make_shared<Impl>();
  impl->source = gz_path;
  impl->context = context_length;
  auto lines = split(read_gzip(gz_path), '\n');
  FG_CHECK(lines.size() >= 2, "CLIP BPE vocabulary '", gz_path, "' holds no merges");
  std::vector<std::string> merge_lines(lines.begin() + 1, lines.begin() + std::min(lines.size(), kMergesEnd));
  // The vocabulary: byte symbols, the same with "</w>", one entry per merge, then the two special tokens.
  std::vector<std::string> vocab;
  for (const auto& bc : bytes_to_unicode()) vocab.push_back(u32_to_utf8(std::u32string(1, bc.second)));
  for (size_t i = 0; i < 256; ++i) vocab.push_back(vocab[i] + "</w>");
  for (const auto& line : merge_lines) {
    const auto parts = split(line, ' ');
    FG_CHECK(parts.size() == 2, "CLIP BPE vocabulary '", gz_path, "': bad merge line '", line, "'");
    vocab.push_back(parts[0] + parts[1]);
  }
  vocab.push_back(kSot);
  vocab.push_back(kEot);
  impl->id_to_string = vocab;
  for (size_t i = 0; i < vocab.size(); ++i) impl->string_to_id[vocab[i]] = static_cast<int64_t>(i);
  impl->finish(merge_lines);
  return Tokenizer(impl);
}

Tokenizer Tokenizer::from_huggingface(const std::string& vocab_json, const std::string& merges_txt,
                                      int64_t context_length) {
  auto impl = std::make_shared<Impl>();
  impl->source = vocab_json;
  impl->context = context_length;
  nlohmann::json vocab;
  try {
    vocab = nlohmann::json::parse(fs::read_file(vocab_json));
  } catch (const nlohmann::json::exception& e) {
    fail(str("CLIP vocabulary '", vocab_json, "' is not valid JSON: ", e.what()));
  }
  FG_CHECK(vocab.is_object() && !vocab.empty(), "CLIP vocabulary '", vocab_json, "' is not a JSON object");
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab.items()) {
    FG_CHECK(id.is_number_integer() && id.get<int64_t>() >= 0, "CLIP vocabulary '", vocab_json, "': id of '",
             token, "' is not a non-negative integer");
    max_id = std::max(max_id, id.get<int64_t>());
  }
  impl->id_to_string.assign(max_id + 1, "");
  for (const auto& [token, id] : vocab.items()) {
    impl->id_to_string[id.get<int64_t>()] = token;
    impl->string_to_id[token] = id.get<int64_t>();
  }
  std::string text = fs::read_file(merges_txt);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  auto lines = split(text, '\n');
  for (auto& l : lines)
    if (!l.empty() && l.back() == '\r') l.pop_back();
  FG_CHECK(lines.size() >= 2, "CLIP merges file '", merges_txt, "' holds no merges");
  std::vector<std::string> merge_lines(lines.begin() + 1, lines.begin() + std::min(lines.size(), kMergesEnd));
  impl->finish(merge_lines);
  return Tokenizer(impl);
}

Tokenizer Tokenizer::from_file(const std::string& path, int64_t context_length) {
  namespace stdfs = std::filesystem;
  const stdfs::path p(path);
  if (stdfs::is_directory(p))
    return from_huggingface((p / "vocab.json").string(), (p / "merges.txt").string(), context_length);
  if (p.extension() == ".json")
    return from_huggingface(path, (p.parent_path() / "merges.txt").string(), context_length);
  FG_CHECK(stdfs::exists(p), "CLIP vocabulary '", path, "' does not exist");
  return from_openai_bpe(path, context_length);
}

std::vector<int64_t> Tokenizer::encode_pieces(const std::string& text) const {
  std::vector<int64_t> ids;
  for (const auto& piece : pretokenize(clean_text(text))) {
    const auto sym = impl_->bpe(piece);
    ids.insert(ids.end(), sym.begin(), sym.end());
  }
  return ids;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, bool truncate) const {
  std::vector<int64_t> ids{impl_->sot};
  const auto body = encode_pieces(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(impl_->eot);
  if (static_cast<int64_t>(ids.size()) > impl_->context) {
    FG_CHECK(truncate, "caption \"", text, "\" is too long for CLIP's context length ", impl_->context, " (",
             ids.size(), " tokens); shorten it or enable truncation");
    ids.resize(impl_->context);
    ids.back() = impl_->eot;
  }
  return ids;
}

torch::Tensor Tokenizer::tokenize(const std::vector<std::string>& texts, bool truncate) const {
  auto out = torch::zeros({static_cast<int64_t>(texts.size()), impl_->context}, torch::kInt64);
  auto acc = out.accessor<int64_t, 2>();
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto ids = encode(texts[i], truncate);
    for (size_t j = 0; j < ids.size(); ++j) acc[i][j] = ids[j];
  }
  return out;
}

std::string Tokenizer::decode(const std::vector<int64_t>& ids) const {
  static const auto byte_of = [] {
    std::unordered_map<char32_t, int> m;
    for (const auto& [b, cp] : bytes_to_unicode()) m[cp] = b;
    return m;
  }();
  std::string joined;
  for (int64_t id : ids) {
    FG_CHECK(id >= 0 && id < static_cast<int64_t>(impl_->id_to_string.size()), "token id ", id,
             " is outside the CLIP vocabulary");
    joined += impl_->id_to_string[id];
  }
  std::string bytes;
  for (char32_t c : utf8_to_u32(joined)) {
    auto it = byte_of.find(c);
    bytes.push_back(static_cast<char>(it != byte_of.end() ? it->second : '?'));
  }
  // Replace invalid UTF-8 by U+FFFD (errors="replace"), then "</w>" by a space.
  std::string text;
  for (size_t i = 0; i < bytes.size();) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    const size_t len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
    bool ok = len > 0 && i + len <= bytes.size();
    for (size_t k = 1; ok && k < len; ++k) ok = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    if (ok) {
      text.append(bytes, i, len);
      i += len;
    } else {
      text += "\xEF\xBF\xBD";
      ++i;
    }
  }
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (text.compare(i, 4, "</w>") == 0) {
      out.push_back(' ');
      i += 4;
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

int64_t Tokenizer::sot_id() const {
  return impl_->sot;
}
int64_t Tokenizer::eot_id() const {
  return impl_->eot;
}
int64_t Tokenizer::vocab_size() const {
  return static_cast<int64_t>(impl_->id_to_string.size());
}
int64_t Tokenizer::context_length() const {
  return impl_->context;
}

}  // namespace fergan::clip
