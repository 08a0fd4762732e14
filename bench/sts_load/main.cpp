// Benchmark (not a test): many stream workers against one STS service, over real sockets.
// Each simulated worker keeps `--connections` keep-alive connections (a stream worker keeps up
// to 3 fragments in flight) and sends one fragment every 1-2 s (jittered), as the worker's
// own client does: metadata + mono WAV, with the fragment's deadline. Meanwhile a probe opens
// a fresh connection every 250 ms for /healthz and /readyz: the no-stall figure.
//   build/bench/livedub-bench-sts-load --url http://127.0.0.1:8000 --pid $(pgrep sts-service)
//       --workers 8,32,64,128 --seconds 20 --wav /usr/share/pocketsphinx/test/data/librivox/...
// Prints one row per N: fragments/s answered 200, request latency p50/p95/p99, 503s, other
// failures, the fresh /healthz worst case, and the service's CPU (% of one core) and peak RSS.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include "livedub/audio.hpp"
#include "livedub/http_client.hpp"
#include "livedub/sts_protocol.hpp"
#include "livedub/wav.hpp"

namespace {

using namespace livedub;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// utime + stime of a process in seconds, and its resident set in MiB (from /proc).
struct ProcessSample {
  double cpu_s = 0;
  double rss_mib = 0;
  int threads = 0;
};

ProcessSample sample_process(int pid) {
  ProcessSample s;
  if (pid <= 0) return s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream fields(line.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  // Fields after "(comm)": state is index 0, utime 11, stime 12, num_threads 17.
  if (f.size() > 17) {
    const double tick = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.cpu_s = (std::stod(f[11]) + std::stod(f[12])) / tick;
    s.threads = std::stoi(f[17]);
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mib = std::stod(line.substr(6)) / 1024.0;
  }
  return s;
}

struct Results {
  std::mutex mutex;
  std::vector<double> ok_ms, all_ms, probe_ms;
  int ok = 0, busy = 0, other = 0, probe_failures = 0;
};

struct Options {
  std::string url;
  std::string token;
  int connections = 3;
  double seconds = 20;
  double fragment_s = 1.5;
  double deadline_s = 3.0;
};

void connection_loop(const Options& opt, const std::vector<MultipartPart>& templ, int worker, int conn,
                     Clock::time_point start, Clock::time_point end, Results& results) {
  std::mt19937 rng(static_cast<unsigned>(worker * 131 + conn));
  std::uniform_real_distribution<double> jitter(1.0, 2.0);
  HttpClient http;
  std::vector<std::string> headers;
  if (!opt.token.empty()) headers.push_back("Authorization: Bearer " + opt.token);
  // The worker's fragments come every 1-2 s and spread over its connections.
  auto next = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(jitter(rng) * conn));
  std::int64_t seq = conn;
  while (next < end) {
    std::this_thread::sleep_until(next);
    auto parts = templ;
    sts::DubRequestMetadata metadata("load-" + std::to_string(worker), seq, "en", "es", "default",
                                     opt.fragment_s * 1000.0);
    metadata.deadline_ms = opt.deadline_s * 1000.0;
    parts[0].data = sts::to_json(metadata).dump();
    seq += opt.connections;
    const auto sent = Clock::now();
    long status = 0;
    try {
      status = http.post_multipart(opt.url + sts::kDubPath, parts,
                                   Ms(static_cast<int>(opt.deadline_s * 1000)), headers)
                   .status;
    } catch (const HttpTransportError&) {
      status = 0;
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
    {
      std::lock_guard lock(results.mutex);
      results.all_ms.push_back(ms);
      if (status == 200) {
        ++results.ok;
        results.ok_ms.push_back(ms);
      } else if (status == 503) {
        ++results.busy;
      } else {
        ++results.other;
      }
    }
    next += std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(jitter(rng) * opt.connections));
  }
}

// A fresh connection every 250 ms: what an operator's health check or a new stream sees.
void probe_loop(const Options& opt, Clock::time_point end, Results& results) {
  int i = 0;
  while (Clock::now() < end) {
    HttpClient http;  // new connection each time
    const auto path = (i++ % 2 == 0) ? "/healthz" : "/readyz";
    const auto sent = Clock::now();
    bool ok = false;
    try {
      ok = http.get(opt.url + path, Ms(10000)).status != 0;
    } catch (const HttpTransportError&) {
    }
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - sent).count();
    {
      std::lock_guard lock(results.mutex);
      results.probe_ms.push_back(ms);
      if (!ok) ++results.probe_failures;
    }
    std::this_thread::sleep_for(Ms(250));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"STS service under many stream workers"};
  Options opt;
  std::string workers_list = "8,32,64,128";
  std::string wav_path;
  std::string label = "sts";
  int pid = 0;
  app.add_option("--url", opt.url, "STS base URL")->required();
  app.add_option("--token", opt.token, "bearer token (LIVEDUB_STS_TOKEN)");
  app.add_option("--pid", pid, "the service's pid, for CPU and memory");
  app.add_option("--workers", workers_list, "comma-separated numbers of simulated stream workers");
  app.add_option("--connections", opt.connections, "keep-alive connections per worker");
  app.add_option("--seconds", opt.seconds, "run length per N");
  app.add_option("--fragment-seconds", opt.fragment_s, "fragment length");
  app.add_option("--deadline-seconds", opt.deadline_s, "per-fragment deadline (client timeout)");
  app.add_option("--wav", wav_path, "speech to cut fragments from (default: a 440 Hz tone)");
  app.add_option("--label", label, "first column (engine name)");
  CLI11_PARSE(app, argc, argv);

  AudioBuffer source;
  if (!wav_path.empty()) {
    std::ifstream in(wav_path, std::ios::binary);
    std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    source = decode_wav(bytes);
  } else {
    source.format = {48000, 1};
    for (int i = 0; i < 48000 * 3; ++i) source.samples.push_back(static_cast<std::int16_t>(9000.0 * std::sin(i * 0.0576)));
  }
  auto mono = conform_audio(source, {48000, 1},
                            static_cast<std::size_t>(static_cast<double>(source.frames()) * 48000 / source.format.sample_rate));
  mono.samples.resize(std::min(mono.samples.size(), static_cast<std::size_t>(opt.fragment_s * 48000)));
  const auto wav = encode_wav(mono);
  const std::vector<MultipartPart> templ{{"metadata", "application/json", "", ""},
                                         {"audio", "audio/wav", "fragment.wav", std::string(wav.begin(), wav.end())}};

  std::printf("%-8s %5s %6s %9s %8s %8s %8s %6s %6s %11s %11s %6s %8s %7s\n", "engine", "N", "conns", "frag/s",
              "p50_ms", "p95_ms", "p99_ms", "503", "other", "health_p99", "health_max", "h_fail", "cpu_%", "rss_MiB");
  std::stringstream list(workers_list);
  for (std::string item; std::getline(list, item, ',');) {
    const int n = std::stoi(item);
    Results results;
    const auto start = Clock::now() + Ms(200);
    const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.seconds));
    const auto before = sample_process(pid);
    std::atomic<bool> sampling{true};
    double peak_rss = before.rss_mib;
    std::thread sampler([&] {
      while (sampling) {
        peak_rss = std::max(peak_rss, sample_process(pid).rss_mib);
        std::this_thread::sleep_for(Ms(200));
      }
    });
    std::vector<std::thread> threads;
    for (int w = 0; w < n; ++w) {
      for (int c = 0; c < opt.connections; ++c) {
        threads.emplace_back(connection_loop, std::cref(opt), std::cref(templ), w, c, start, end, std::ref(results));
      }
    }
    threads.emplace_back(probe_loop, std::cref(opt), end, std::ref(results));
    for (auto& t : threads) t.join();
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    sampling = false;
    sampler.join();
    const auto after = sample_process(pid);
    std::printf("%-8s %5d %6d %9.2f %8.0f %8.0f %8.0f %6d %6d %11.0f %11.0f %6d %8.0f %7.0f\n", label.c_str(), n,
                n * opt.connections, results.ok / wall, percentile(results.all_ms, 0.5),
                percentile(results.all_ms, 0.95), percentile(results.all_ms, 0.99), results.busy, results.other,
                percentile(results.probe_ms, 0.99),
                results.probe_ms.empty() ? 0.0 : *std::max_element(results.probe_ms.begin(), results.probe_ms.end()),
                results.probe_failures, pid > 0 ? 100.0 * (after.cpu_s - before.cpu_s) / wall : 0.0, peak_rss);
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(2));  // let the service drain between rows
  }
  return 0;
}
