// Benchmark (not a test): chrF and BLEU of every translation engine the STS would run (Apertium,
// and the neural models under --model-dir/mt, routed as the STS routes them) on real parallel
// text from Debian: the asterisk English and Spanish prompt transcripts, which share their keys.
//   build/bench/livedub-bench-mt [--model-dir DIR] [--engine auto|apertium|marian|m2m100]
//       [--context] [--glossary FILE] [--show 5]
// A deployment with a real model measures itself: scripts/fetch-mt-model opus-mt-en-es DIR, then
// --model-dir DIR. The Spanish transcripts are written without accents or ñ; scores are printed
// as they are and with accents folded on both sides (the fairer figure for accented output).
// --context gives each sentence the previous prompt of the same file as context (engines that
// use it: the neural ones with it enabled).
#include <chrono>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "sts/apertium_mt.hpp"
#include "sts/cpu_engine.hpp"
#include "sts/glossary.hpp"
#include "sts/neural_mt.hpp"
#include "sts/speech_corpus.hpp"
#include "sts/text_metrics.hpp"

int main(int argc, char** argv) {
  using namespace livedub::sts;
  CLI::App app{"livedub: translation chrF/BLEU on the asterisk en/es parallel prompts"};
  std::string modes_dir = "/usr/share/apertium/modes";
  std::string model_dir;
  std::string engine = kMtAuto;
  std::string glossary_file;
  NeuralMtOptions neural;
  int show = 3;
  app.add_option("--modes-dir", modes_dir, "Apertium modes directory");
  app.add_option("--model-dir", model_dir, "neural models under DIR/mt (LIVEDUB_STS_MODEL_DIR layout)");
  app.add_option("--engine", engine, "auto | apertium | marian | m2m100 (LIVEDUB_STS_MT_ENGINE)");
  app.add_option("--precision", neural.precision, "auto | int8 | float");
  app.add_flag("--context", neural.context, "the previous sentence as context");
  app.add_option("--glossary", glossary_file, "apply this glossary around MT (LIVEDUB_STS_GLOSSARY format)");
  app.add_option("--show", show, "example sentences to print per pair");
  CLI11_PARSE(app, argc, argv);

  const Glossary glossary = glossary_file.empty() ? Glossary{} : Glossary::load(glossary_file);
  std::vector<std::shared_ptr<Translator>> translators;
  for (auto& m : load_mt_models(model_dir, neural)) translators.push_back(std::move(m));
  try {
    translators.push_back(std::make_shared<ApertiumEngine>(modes_dir, std::chrono::seconds(10)));
  } catch (const MtError& e) {
    std::fprintf(stderr, "Apertium unavailable: %s\n", e.what());
  }
  const MtRouter mt(std::move(translators), engine, "");
  std::printf("%-8s %-40s %9s | %-7s %-7s | %-15s %-15s | %s\n", "pair", "engine", "sentences", "chrF", "BLEU",
              "chrF (folded)", "BLEU (folded)", "ms/sentence");
  for (const auto& pair : mt.pairs()) {
    std::vector<ParallelSentence> corpus;
    try {
      corpus = asterisk_parallel(pair.source, pair.target);
    } catch (const std::exception&) {
      continue;  // no parallel text for this pair here (asterisk-core-sounds-<lang>)
    }
    if (corpus.empty()) continue;
    std::vector<std::string> hypotheses, references, folded_hyp, folded_ref;
    const auto started = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < corpus.size(); ++i) {
      MtRequest request;
      request.source = pair.source;
      request.targets = {pair.target};
      request.text = corpus[i].source;
      if (neural.context && i > 0) {
        request.previous_source = corpus[i - 1].source;
        request.previous_translations = {hypotheses.back()};
      }
      hypotheses.push_back(translate_with_glossary(mt, glossary, request).front());
      references.push_back(corpus[i].target);
      folded_hyp.push_back(fold_accents(hypotheses.back()));
      folded_ref.push_back(fold_accents(corpus[i].target));
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    const auto name = pair.source + "-" + pair.target;
    std::printf("%-8s %-40s %9zu | %-7.1f %-7.1f | %-15.1f %-15.1f | %.1f\n", name.c_str(),
                mt.describe(pair.source, pair.target).c_str(), corpus.size(), corpus_chrf(hypotheses, references),
                corpus_bleu(hypotheses, references), corpus_chrf(folded_hyp, folded_ref),
                corpus_bleu(folded_hyp, folded_ref), ms / static_cast<double>(corpus.size()));
    for (int i = 0; i < show && static_cast<std::size_t>(i) < corpus.size(); ++i) {
      const auto k = static_cast<std::size_t>(i) * corpus.size() / static_cast<std::size_t>(show);
      std::printf("    src: %s\n    mt:  %s\n    ref: %s\n", corpus[k].source.c_str(), hypotheses[k].c_str(),
                  references[k].c_str());
    }
  }
  return 0;
}
