// Benchmark (not a test): chrF and BLEU of each installed Apertium pair on real parallel text
// from Debian: the asterisk English and Spanish prompt transcripts, which share their keys.
//   build/bench/livedub-bench-mt [--glossary FILE] [--show 5]
// The Spanish transcripts are written without accents or ñ; scores are printed as they are
// and with accents folded on both sides (the fairer figure for Apertium's accented output).
#include <chrono>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "sts/apertium_mt.hpp"
#include "sts/glossary.hpp"
#include "sts/speech_corpus.hpp"
#include "sts/text_metrics.hpp"

int main(int argc, char** argv) {
  using namespace livedub::sts;
  CLI::App app{"livedub: Apertium chrF/BLEU on the asterisk en/es parallel prompts"};
  std::string modes_dir = "/usr/share/apertium/modes";
  std::string glossary_file;
  int show = 3;
  app.add_option("--modes-dir", modes_dir, "Apertium modes directory");
  app.add_option("--glossary", glossary_file, "apply this glossary around MT (LIVEDUB_STS_GLOSSARY format)");
  app.add_option("--show", show, "example sentences to print per pair");
  CLI11_PARSE(app, argc, argv);

  const Glossary glossary = glossary_file.empty() ? Glossary{} : Glossary::load(glossary_file);
  ApertiumTranslator translator(modes_dir);
  std::printf("%-8s %9s | %-7s %-7s | %-15s %-15s | %s\n", "pair", "sentences", "chrF", "BLEU", "chrF (folded)",
              "BLEU (folded)", "ms/sentence");
  for (const auto& mode : translator.modes()) {
    std::vector<ParallelSentence> corpus;
    try {
      corpus = asterisk_parallel(mode.source, mode.target);
    } catch (const std::exception&) {
      std::printf("%-8s no parallel text here (asterisk-core-sounds-%s / -%s)\n", mode.name.c_str(), mode.source.c_str(),
                  mode.target.c_str());
      continue;
    }
    if (corpus.empty()) continue;
    std::vector<std::string> hypotheses, references, folded_hyp, folded_ref;
    const auto started = std::chrono::steady_clock::now();
    for (const auto& sentence : corpus) {
      const auto protected_text = glossary.protect(sentence.source, mode.source, mode.target);
      hypotheses.push_back(
          Glossary::restore(translator.translate(mode.source, mode.target, protected_text.text), protected_text));
      references.push_back(sentence.target);
      folded_hyp.push_back(fold_accents(hypotheses.back()));
      folded_ref.push_back(fold_accents(sentence.target));
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    std::printf("%-8s %9zu | %-7.1f %-7.1f | %-15.1f %-15.1f | %.1f\n", mode.name.c_str(), corpus.size(),
                corpus_chrf(hypotheses, references), corpus_bleu(hypotheses, references),
                corpus_chrf(folded_hyp, folded_ref), corpus_bleu(folded_hyp, folded_ref),
                ms / static_cast<double>(corpus.size()));
    for (int i = 0; i < show && static_cast<std::size_t>(i) < corpus.size(); ++i) {
      const auto k = static_cast<std::size_t>(i) * corpus.size() / static_cast<std::size_t>(show);
      std::printf("    src: %s\n    mt:  %s\n    ref: %s\n", corpus[k].source.c_str(), hypotheses[k].c_str(),
                  references[k].c_str());
    }
  }
  return 0;
}
