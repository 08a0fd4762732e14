// Benchmark helper: the word error rate of what the STS service heard for one stream
// (GET /v1/sessions/<id>, transcripts in sequence order) against a reference text.
//   livedub-bench-live-wer --sts http://127.0.0.1:8000 --stream ID --reference FILE
#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "livedub/http_client.hpp"
#include "sts/text_metrics.hpp"

int main(int argc, char** argv) {
  CLI::App app{"livedub-bench-live-wer: WER of a stream's live transcripts"};
  std::string sts, stream, reference_path;
  app.add_option("--sts", sts, "STS service base URL")->required();
  app.add_option("--stream", stream, "stream id")->required();
  app.add_option("--reference", reference_path, "reference transcript (text file)")->required();
  CLI11_PARSE(app, argc, argv);
  std::ifstream in(reference_path);
  std::stringstream reference;
  reference << in.rdbuf();
  livedub::HttpClient http;
  const auto response = http.get(sts + "/v1/sessions/" + stream, std::chrono::seconds(5));
  if (response.status != 200) {
    std::cerr << "live-wer: GET /v1/sessions/" << stream << " answered " << response.status << "\n";
    return 1;
  }
  const auto session = nlohmann::json::parse(response.body);
  std::string heard;
  int fragments = 0;
  for (const auto& f : session.at("fragments")) {
    heard += " " + f.at("transcript").get<std::string>();
    ++fragments;
  }
  const auto errors = livedub::sts::word_errors(reference.str(), heard);
  std::printf("fragments sent to STS: %d\nheard: %s\nWER: %.1f %% (%zu errors / %zu words)\n", fragments, heard.c_str(),
              100 * errors.rate(), errors.errors, errors.reference_words);
  return 0;
}
