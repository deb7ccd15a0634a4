// CLIP's byte-level BPE tokenizer, equal to OpenAI's clip/simple_tokenizer.py + clip.tokenize().
//
// encode(): clean_text() (text_clean.h), split with CLIP's pre-tokenization pattern
//   <|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// (implemented by hand over code points), map each piece's UTF-8 bytes to the byte-level alphabet, apply the
// BPE merges by rank, and look the symbols up in the vocabulary; framed by <|startoftext|> (49406) and
// <|endoftext|> (49407) and limited to the context length (77): longer text is an error unless truncation
// is asked for, in which case the last kept token becomes <|endoftext|>, as clip.tokenize(truncate=True).
// BPE results are cached per piece (thread-safe), since captions repeat the same words.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fergan::clip {

class Tokenizer {
 public:
  // `path`: OpenAI's bpe_simple_vocab_16e6.txt.gz, or HuggingFace's vocab.json (with merges.txt next to it),
  // or a directory holding vocab.json + merges.txt.
  static Tokenizer from_file(const std::string& path, int64_t context_length = 77);
  static Tokenizer from_openai_bpe(const std::string& gz_path, int64_t context_length = 77);
  static Tokenizer from_huggingface(const std::string& vocab_json, const std::string& merges_txt,
                                    int64_t context_length = 77);

  // [sot] + ids + [eot]; error (naming the text) when longer than the context unless `truncate`.
  std::vector<int64_t> encode(const std::string& text, bool truncate = false) const;
  // The ids alone, no special tokens and no length limit (SimpleTokenizer.encode).
  std::vector<int64_t> encode_pieces(const std::string& text) const;
  // int64 [B, context_length], zero-padded (clip.tokenize).
  torch::Tensor tokenize(const std::vector<std::string>& texts, bool truncate = false) const;
  // SimpleTokenizer.decode: "</w>" becomes a space, invalid UTF-8 replaced.
  std::string decode(const std::vector<int64_t>& ids) const;

  int64_t sot_id() const;
  int64_t eot_id() const;
  int64_t vocab_size() const;
  int64_t context_length() const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// CLIP's pre-tokenization of already cleaned text: the pieces findall() returns, as UTF-8.
std::vector<std::string> pretokenize(const std::u32string& cleaned);

}  // namespace fergan::clip
