// peer_process.h: a peer engine kept running beside a benchmark, as a child process spoken to through pipes: one
// request line on its stdin, one answer line on its stdout (`pipnet bench` keeps ONNX Runtime's session open this way
// in tools/bench_ort.js --serve, to time it and us in alternated pairs). Header-only; POSIX.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

// argv[0] is looked up on PATH; the child shares our stderr. ask() answers "" once the child has gone (or never
// started: no such program), and a write to a child that has gone fails instead of raising SIGPIPE.
class PeerProcess {
 public:
  explicit PeerProcess(const std::vector<std::string>& argv) {
    std::vector<char*> args;  // made before fork: the child of a threaded process may not allocate
    for (const std::string& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    int in[2], out[2];
    if (pipe(in) != 0) return;
    if (pipe(out) != 0) { close(in[0]), close(in[1]); return; }
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0), dup2(out[1], 1);
      close(in[0]), close(in[1]), close(out[0]), close(out[1]);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(in[0]), close(out[1]);
    if (pid_ < 0) { close(in[1]), close(out[0]); return; }
    to_ = fdopen(in[1], "w"), from_ = fdopen(out[0], "r");
    old_pipe_ = std::signal(SIGPIPE, SIG_IGN);  // a peer that has gone fails a write, not this process
  }
  ~PeerProcess() {
    if (to_) std::fclose(to_);  // its stdin closes: it exits
    if (from_) std::fclose(from_);
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
    if (to_) std::signal(SIGPIPE, old_pipe_);
  }
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;
  std::string ask(const std::string& line) {
    char buf[256];
    if (!to_ || !from_ || std::fprintf(to_, "%s\n", line.c_str()) < 0 || std::fflush(to_) != 0 || !std::fgets(buf, sizeof buf, from_))
      return "";
    return buf;
  }

 private:
  pid_t pid_ = -1;
  FILE* to_ = nullptr;
  FILE* from_ = nullptr;
  void (*old_pipe_)(int) = SIG_DFL;
};

}  // namespace bench
