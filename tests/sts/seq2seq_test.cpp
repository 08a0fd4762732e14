// The pure parts of neural translation: config.json, greedy decoding over a scripted step
// function, the length cap, glossary terms put back, and which engine serves which pair.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "livedub/config.hpp"
#include "sts/seq2seq.hpp"
#include "sts/translator.hpp"

namespace livedub::sts {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kMarianConfig = R"({"model_type": "marian", "vocab_size": 100, "decoder_layers": 6,
  "decoder_attention_heads": 8, "d_model": 512, "pad_token_id": 99, "eos_token_id": 0,
  "decoder_start_token_id": 99, "max_position_embeddings": 512})";

TEST(Seq2SeqConfig, ReadsAMarianConfig) {
  const auto config = parse_seq2seq_config(kMarianConfig, "config.json");
  EXPECT_EQ(config.family, Seq2SeqFamily::kMarian);
  EXPECT_EQ(config.vocab_size, 100);
  EXPECT_EQ(config.decoder_layers, 6);
  EXPECT_EQ(config.head_dim(), 64);
  EXPECT_EQ(config.decoder_start_token_id, 99);
}

TEST(Seq2SeqConfig, RejectsWhatItCannotRunNamingTheFile) {
  auto message = [](const std::string& text) {
    try {
      parse_seq2seq_config(text, "/m/config.json");
    } catch (const MtModelError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(message("{not json"), HasSubstr("/m/config.json: not valid JSON"));
  EXPECT_THAT(message(R"({"model_type": "bert"})"), HasSubstr("model_type 'bert'"));
  std::string no_layers = kMarianConfig;
  no_layers.replace(no_layers.find("\"decoder_layers\""), 16, "\"layers\"");
  EXPECT_THAT(message(no_layers), HasSubstr("'decoder_layers' is missing"));
  std::string odd_heads = kMarianConfig;
  odd_heads.replace(odd_heads.find("\"d_model\": 512"), 14, "\"d_model\": 500");
  EXPECT_THAT(message(odd_heads), HasSubstr("not a multiple of 8 heads"));
  std::string eos_out_of_range = kMarianConfig;
  eos_out_of_range.replace(eos_out_of_range.find("\"eos_token_id\": 0"), 17, "\"eos_token_id\": 100");
  EXPECT_THAT(message(eos_out_of_range), HasSubstr("'eos_token_id' = 100 is out of range"));
}

// A model scripted per step: row r's logits favour script[r][step].
struct ScriptedModel {
  explicit ScriptedModel(std::vector<std::vector<std::int64_t>> rows) : script(std::move(rows)) {}
  std::vector<std::vector<std::int64_t>> script;
  std::int64_t vocab = 10;
  std::vector<std::vector<std::vector<std::int64_t>>> fed;  // per call
  std::vector<float> logits;
  int steps = 0;

  DecodeStep step() {
    return [this](const std::vector<std::vector<std::int64_t>>& tokens) -> std::span<const float> {
      fed.push_back(tokens);
      logits.assign(tokens.size() * static_cast<std::size_t>(vocab), 0.0f);
      for (std::size_t r = 0; r < tokens.size(); ++r) {
        const auto& s = script[r];
        const auto want = static_cast<std::size_t>(steps) < s.size() ? s[static_cast<std::size_t>(steps)] : 1;
        logits[r * static_cast<std::size_t>(vocab) + static_cast<std::size_t>(want)] = 5.0f;
      }
      ++steps;
      return logits;
    };
  }
};

TEST(GreedyDecode, StopsAtEndOfSequenceAndFeedsEachChoiceBack) {
  ScriptedModel model{{{4, 5, 0}}};
  const auto out = greedy_decode({{{9}, {}}}, {10, 0, {}}, model.vocab, model.step());
  EXPECT_THAT(out, ElementsAre(ElementsAre(4, 5)));
  ASSERT_EQ(model.fed.size(), 3u);
  EXPECT_EQ(model.fed[0], (std::vector<std::vector<std::int64_t>>{{9}}));
  EXPECT_EQ(model.fed[1], (std::vector<std::vector<std::int64_t>>{{4}}));
  EXPECT_EQ(model.fed[2], (std::vector<std::vector<std::int64_t>>{{5}}));
}

TEST(GreedyDecode, AModelThatNeverEndsStopsAtTheCap) {
  ScriptedModel model(std::vector<std::vector<std::int64_t>>(1));  // always token 1
  const auto out = greedy_decode({{{9}, {}}}, {7, 0, {}}, model.vocab, model.step());
  EXPECT_EQ(out[0].size(), 7u);
  EXPECT_EQ(model.steps, 7);
}

TEST(GreedyDecode, RowsRunInLockStepAndAFinishedRowKeepsItsOutput) {
  ScriptedModel model{{{2, 0, 3, 3}, {4, 4, 4, 0}}};
  const auto out = greedy_decode({{{9, 8}, {}}, {{9, 7}, {}}}, {10, 0, {}}, model.vocab, model.step());
  EXPECT_THAT(out, ElementsAre(ElementsAre(2), ElementsAre(4, 4, 4)));
  EXPECT_EQ(model.steps, 4);  // until the longer row ends
  for (const auto& call : model.fed) EXPECT_EQ(call[0].size(), call[1].size());
}

TEST(GreedyDecode, ForcedTokensAreFedButNotReturnedAndNotCountedInTheCap) {
  ScriptedModel model{{{6, 6, 2, 3, 0}}};
  const auto out = greedy_decode({{{9}, {5, 5}}}, {2, 0, {}}, model.vocab, model.step());
  EXPECT_THAT(out, ElementsAre(ElementsAre(2, 3)));
  EXPECT_EQ(model.fed[1][0], (std::vector<std::int64_t>{5}));
  EXPECT_EQ(model.fed[2][0], (std::vector<std::int64_t>{5}));
}

TEST(GreedyDecode, BannedTokensAreNeverChosen) {
  ScriptedModel model{{{8, 8, 8}}};  // the model wants 8 every time
  const auto out = greedy_decode({{{9}, {}}}, {3, 9, {8}}, model.vocab, model.step());
  EXPECT_EQ(out[0].size(), 3u);
  EXPECT_THAT(out[0], ::testing::Not(::testing::Contains(8)));
}

TEST(GreedyDecode, LogitsOfTheWrongSizeAreAModelMismatch) {
  const DecodeStep step = [](const std::vector<std::vector<std::int64_t>>&) -> std::span<const float> {
    static std::vector<float> five(5, 0.0f);
    return five;
  };
  EXPECT_THROW(greedy_decode({{{1}, {}}}, {4, 0, {}}, 10, step), MtModelError);
}

TEST(GreedyDecode, StopsWhenAskedBetweenSteps) {
  ScriptedModel model(std::vector<std::vector<std::int64_t>>(1));
  int polls = 0;
  const auto out = greedy_decode({{{9}, {}}}, {50, 0, {}}, model.vocab, model.step(), [&] { return ++polls > 3; });
  EXPECT_EQ(out[0].size(), 3u);
}

TEST(GreedyDecode, RowsOfDifferentStartLengthsAreRefused) {
  ScriptedModel model{{{0}, {0}}};
  EXPECT_THROW(greedy_decode({{{1}, {}}, {{1, 2}, {}}}, {4, 0, {}}, model.vocab, model.step()), std::invalid_argument);
}

TEST(OutputTokenCap, FollowsTheSourceWithinTheConfiguredCap) {
  EXPECT_EQ(output_token_cap(10, 96), 28);
  EXPECT_EQ(output_token_cap(100, 96), 96);
  EXPECT_EQ(output_token_cap(0, 96), 8);
}

TEST(EnsureTerm, KeepsATranslationThatHasTheTermIntact) {
  EXPECT_EQ(ensure_term("hola Xylophonix amigos", "Xylophonix", 0.5), "hola Xylophonix amigos");
  EXPECT_EQ(ensure_term("hola xylophonix.", "Xylophonix", 0.1), "hola xylophonix.");
}

TEST(EnsureTerm, PutsBackALostTermWhereItStoodInTheSource) {
  EXPECT_EQ(ensure_term("hola Xylo phonix amigos", "Xylophonix", 0.0), "Xylophonix hola Xylo phonix amigos");
  EXPECT_EQ(ensure_term("uno dos tres cuatro", "OBS Studio", 0.5), "uno dos OBS Studio tres cuatro");
  EXPECT_EQ(ensure_term("bienvenidos a mi canal.", "livedub", 1.0), "bienvenidos a mi canal livedub.");
  EXPECT_EQ(ensure_term("", "livedub", 0.5), "livedub");
  // A longer word that contains the term is not the term.
  EXPECT_EQ(ensure_term("livedubbing hoy", "livedub", 1.0), "livedubbing hoy livedub");
}

std::vector<MtOffer> offers() {
  return {{"apertium", {"en", "es"}}, {"apertium", {"en", "ca"}}, {"marian", {"en", "es"}},
          {"m2m100", {"en", "es"}},   {"m2m100", {"en", "fr"}},   {"m2m100", {"en", "ca"}}};
}

using Routes = std::map<std::pair<std::string, std::string>, std::string>;

TEST(RouteMtPairs, AutoPrefersAPairModelThenTheMultilingualOneThenApertium) {
  const auto routes = route_mt_pairs(offers(), kMtAuto, "");
  EXPECT_EQ(routes, (Routes{{{"en", "es"}, "marian"}, {{"en", "ca"}, "m2m100"}, {{"en", "fr"}, "m2m100"}}));
  const auto only_apertium = route_mt_pairs({{"apertium", {"en", "es"}}}, kMtAuto, "");
  EXPECT_EQ(only_apertium, (Routes{{{"en", "es"}, "apertium"}}));
}

TEST(RouteMtPairs, APreferredEngineServesEveryPairItHasAndAutoTheRest) {
  const auto routes = route_mt_pairs(offers(), kMtApertium, "");
  EXPECT_EQ(routes, (Routes{{{"en", "es"}, "apertium"}, {{"en", "ca"}, "apertium"}, {{"en", "fr"}, "m2m100"}}));
}

TEST(RouteMtPairs, OverridesPinSinglePairs) {
  const auto routes = route_mt_pairs(offers(), kMtAuto, " en-es=m2m100 , en-ca=apertium");
  EXPECT_EQ(routes.at({"en", "es"}), "m2m100");
  EXPECT_EQ(routes.at({"en", "ca"}), "apertium");
  EXPECT_EQ(routes.at({"en", "fr"}), "m2m100");
}

TEST(RouteMtPairs, ConfigurationErrorsNameTheVariable) {
  auto error = [](const std::string& preferred, const std::string& overrides) -> std::pair<std::string, std::string> {
    try {
      route_mt_pairs(offers(), preferred, overrides);
    } catch (const ConfigError& e) {
      return {e.variable(), e.what()};
    }
    return {"", "no error"};
  };
  EXPECT_EQ(error(kMtAuto, "en-fr=apertium").first, "LIVEDUB_STS_MT_PAIRS");
  EXPECT_THAT(error(kMtAuto, "en-fr=apertium").second, HasSubstr("installed: m2m100"));
  EXPECT_THAT(error(kMtAuto, "en-ja=m2m100").second, HasSubstr("no engine does"));
  EXPECT_THAT(error(kMtAuto, "es=apertium").second, HasSubstr("not SOURCE-TARGET=ENGINE"));
  EXPECT_THAT(error(kMtAuto, "en-es").second, HasSubstr("not SOURCE-TARGET=ENGINE"));
  const auto no_marian = route_mt_pairs({{"apertium", {"en", "es"}}}, kMtAuto, "");
  EXPECT_EQ(no_marian.size(), 1u);
  try {
    route_mt_pairs({{"apertium", {"en", "es"}}}, kMtMarian, "");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.variable(), "LIVEDUB_STS_MT_ENGINE");
  }
}

}  // namespace
}  // namespace livedub::sts
