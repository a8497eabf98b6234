// video.cpp: ffmpeg and ffprobe as child processes (fork, exec, one pipe), the PPM stream they decode into, and the
// face tracks of --smooth. See video.h.
#include "pipnet/video.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tensor/check.h"
#include "tensor/fileio.h"

bool is_video_path(const std::string& path) {
  const size_t dot = path.find_last_of('.'), slash = path.find_last_of('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return false;
  std::string ext = path.substr(dot + 1);
  for (char& c : ext) c = (char)std::tolower((unsigned char)c);
  for (const char* v : {"mp4", "m4v", "mov", "avi", "mkv", "webm", "mpg", "mpeg", "wmv", "flv", "ts", "3gp", "ogv", "gif", "y4m"})
    if (ext == v) return true;
  return false;
}

std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream ss(path ? path : "");
  for (std::string dir; std::getline(ss, dir, ':');) {
    const std::string p = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st;
    if (stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

// ---- child processes ------------------------------------------------------------------------------
Child spawn(const std::vector<std::string>& argv, bool we_write) {
  Child c;
  char tmpl[] = "/tmp/pipnet_ffmpeg_err.XXXXXX";
  const int err = mkstemp(tmpl);
  if (err < 0) throw Error(std::string("cannot create a temporary file in /tmp: ") + std::strerror(errno));
  c.err_path = tmpl;
  int p[2];
  if (pipe(p) != 0) {
    close(err);
    std::remove(tmpl);
    throw Error(std::string("cannot create a pipe: ") + std::strerror(errno));
  }
  std::vector<char*> args;
  for (const std::string& s : argv) args.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);
  c.pid = fork();
  if (c.pid < 0) {
    const int e = errno;
    close(err), close(p[0]), close(p[1]);
    std::remove(tmpl);
    throw Error(std::string("cannot start ") + argv[0] + ": " + std::strerror(e));
  }
  if (c.pid == 0) {  // the child: the pipe's other end as stdin or stdout, stderr to the file, nothing else open
    dup2(we_write ? p[0] : p[1], we_write ? 0 : 1);
    dup2(err, 2);
    if (!we_write) {
      const int devnull = open("/dev/null", O_RDONLY);
      if (devnull >= 0) dup2(devnull, 0);
    }
    for (int fd = 3; fd < 1024; fd++) close(fd);
    execvp(args[0], args.data());
    const char msg[] = "cannot run the program (exec failed)\n";  // only async-signal-safe calls after fork
    (void)!::write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  close(err);
  close(we_write ? p[0] : p[1]);
  c.fd = we_write ? p[1] : p[0];
  fcntl(c.fd, F_SETFD, FD_CLOEXEC);
  return c;
}

std::string Child::stderr_tail() const {
  std::ifstream f(err_path);
  std::string line, last;
  while (std::getline(f, line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) last = line;
  while (!last.empty() && (last.back() == '\r' || last.back() == ' ')) last.pop_back();
  return last.empty() ? "(it said nothing)" : last;
}

int Child::wait() {
  if (fd >= 0) close(fd), fd = -1;
  if (pid <= 0) return 0;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
  pid = -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

void Child::kill_and_wait() {
  if (pid > 0) ::kill(pid, SIGKILL);
  wait();
  if (!err_path.empty()) std::remove(err_path.c_str()), err_path.clear();
}

// ---- ffprobe -------------------------------------------------------------------------------------
namespace {
std::string need(const std::string& prog, const std::string& file) {
  const std::string p = find_program(prog);
  if (p.empty())
    throw Error(file + ": reading videos needs " + prog + ", which is not installed (apt-get install ffmpeg)");
  return p;
}

std::string slurp_fd(int fd) {
  std::string s;
  char b[4096];
  for (ssize_t n; (n = read(fd, b, sizeof b)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    s.append(b, (size_t)n);
  }
  return s;
}

double parse_rate(const std::string& r) {  // "30000/1001", "25", "0/0"
  const size_t slash = r.find('/');
  const double num = std::atof(r.substr(0, slash).c_str());
  const double den = slash == std::string::npos ? 1 : std::atof(r.substr(slash + 1).c_str());
  return den > 0 && num > 0 ? num / den : 0;
}
}  // namespace

VideoInfo probe_video(const std::string& path) {
  if (!path_exists(path) || is_directory(path)) throw Error(path + ": no such video file");
  Child c = spawn({need("ffprobe", path), "-v", "error", "-select_streams", "v:0", "-show_entries",
                   "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames:format=duration", "-of", "default=noprint_wrappers=1",
                   path},
                  false);
  const std::string out = slurp_fd(c.fd);
  const int rc = c.wait();
  const std::string said = c.stderr_tail();
  std::remove(c.err_path.c_str());
  if (rc != 0) throw Error(path + ": not a video ffmpeg can read (ffprobe: " + said + ")");
  VideoInfo v;
  double r_rate = 0, duration = 0;
  std::stringstream ss(out);
  for (std::string line; std::getline(ss, line);) {
    const size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = line.substr(0, eq), val = line.substr(eq + 1);
    if (k == "width") v.w = std::atoi(val.c_str());
    else if (k == "height") v.h = std::atoi(val.c_str());
    else if (k == "avg_frame_rate") v.fps = parse_rate(val);
    else if (k == "r_frame_rate") r_rate = parse_rate(val);
    else if (k == "nb_frames") v.frames = std::atoll(val.c_str());
    else if (k == "duration") duration = std::atof(val.c_str());
  }
  if (v.w <= 0 || v.h <= 0) throw Error(path + ": no video stream (ffprobe found none with a frame size)");
  if (v.fps <= 0) v.fps = r_rate;
  if (v.fps <= 0 || v.fps > 1000) v.fps = 25;  // unknown: times are then frame index / 25
  if (v.frames <= 0 && duration > 0 && duration < 1e7) v.frames = (int64_t)std::llround(duration * v.fps);  // estimate
  return v;
}

// ---- reading -------------------------------------------------------------------------------------
VideoReader::VideoReader(const std::string& path) : path_(path), buf_(1 << 16) {
  ff_ = spawn({need("ffmpeg", path), "-v", "error", "-nostdin", "-i", path, "-map", "0:v:0", "-vsync", "0", "-f",
               "image2pipe", "-c:v", "ppm", "-pix_fmt", "rgb24", "pipe:1"},
              false);
}

VideoReader::~VideoReader() { ff_.kill_and_wait(); }

int VideoReader::get() {
  if (pos_ == have_) {
    if (eof_) return -1;
    ssize_t n;
    while ((n = read(ff_.fd, buf_.data(), buf_.size())) < 0 && errno == EINTR) {}
    if (n <= 0) {
      eof_ = true;
      return -1;
    }
    have_ = (size_t)n, pos_ = 0;
  }
  return buf_[pos_++];
}

size_t VideoReader::read_into(uint8_t* dst, size_t n) {
  size_t got = 0;
  const size_t from_buf = std::min(n, have_ - pos_);
  std::memcpy(dst, buf_.data() + pos_, from_buf);
  pos_ += from_buf, got += from_buf;
  while (got < n && !eof_) {
    const ssize_t r = read(ff_.fd, dst + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) eof_ = true;
    else got += (size_t)r;
  }
  return got;
}

bool VideoReader::next(Image& frame) {
  // One PPM: "P6" whitespace width whitespace height whitespace maxval one-whitespace, then width*height*3 bytes.
  auto fail = [&](const std::string& what) {
    const int rc = ff_.wait();
    throw Error(path_ + ": " + what + " (ffmpeg" + (rc ? strf(" exit %d", rc) : std::string()) + ": " +
                ff_.stderr_tail() + ")");
  };
  int c = get();
  if (c < 0) {  // the end: ffmpeg's verdict decides whether it was a clean one
    const int rc = ff_.wait();
    if (rc != 0) throw Error(path_ + ": ffmpeg failed after " + std::to_string(n_) + " frames: " + ff_.stderr_tail());
    return false;
  }
  if (c != 'P' || get() != '6') fail("unexpected data from ffmpeg (expected a PPM frame)");
  int fields[3];
  for (int& f : fields) {
    c = get();
    while (c == ' ' || c == '\n' || c == '\r' || c == '\t') c = get();
    if (c < '0' || c > '9') fail("a frame header from ffmpeg is malformed");
    int64_t v = 0;
    while (c >= '0' && c <= '9' && v < (1 << 20)) v = v * 10 + (c - '0'), c = get();
    f = (int)v;
  }
  if (fields[2] != 255) fail("ffmpeg sent frames that are not 8-bit");
  check_image_size(fields[0], fields[1], path_ + strf(" (frame %lld)", (long long)n_));
  if (frame.w != fields[0] || frame.h != fields[1]) frame = Image(fields[0], fields[1]);
  if (read_into(frame.px.data(), frame.px.size()) != frame.px.size()) fail("the last frame is cut short");
  n_++;
  return true;
}

// ---- writing -------------------------------------------------------------------------------------
VideoWriter::VideoWriter(const std::string& path, int w, int h, double fps) : path_(path), tmp_(path + ".tmp"), w_(w), h_(h) {
  signal(SIGPIPE, SIG_IGN);  // a dead ffmpeg makes write() fail with EPIPE, reported with what it said
  ff_ = spawn({need("ffmpeg", path), "-v", "error", "-nostdin", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s",
               strf("%dx%d", w, h), "-r", strf("%.6f", fps), "-i", "pipe:0", "-vf",
               "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt",
               "yuv420p", "-movflags", "+faststart", "-f", "mp4", tmp_},
              true);
}

VideoWriter::~VideoWriter() {
  if (done_) return;
  ff_.kill_and_wait();
  std::remove(tmp_.c_str());
}

void VideoWriter::write(const Image& frame) {
  const Image sized = frame.w == w_ && frame.h == h_ ? Image() : resize_bilinear(frame, w_, h_);
  const Image& f = sized.w ? sized : frame;
  const uint8_t* p = f.px.data();
  size_t left = f.px.size();
  while (left > 0) {
    const ssize_t n = ::write(ff_.fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int rc = ff_.wait();
      throw Error(path_ + ": ffmpeg stopped while writing the video (exit " + std::to_string(rc) + ": " +
                  ff_.stderr_tail() + ")");
    }
    p += n, left -= (size_t)n;
  }
}

void VideoWriter::finish() {
  const int rc = ff_.wait();
  const std::string said = ff_.stderr_tail();
  std::remove(ff_.err_path.c_str());
  ff_.err_path.clear();
  if (rc != 0) {
    std::remove(tmp_.c_str());
    done_ = true;
    throw Error(path_ + ": ffmpeg could not write the video (exit " + std::to_string(rc) + ": " + said + ")");
  }
  if (std::rename(tmp_.c_str(), path_.c_str()) != 0) {
    std::remove(tmp_.c_str());
    done_ = true;
    throw Error(path_ + ": cannot rename " + tmp_ + " into place");
  }
  done_ = true;
}

// ---- tracks --------------------------------------------------------------------------------------
float box_iou(const float a[4], const float b[4]) {
  const float iw = std::min(a[2], b[2]) - std::max(a[0], b[0]), ih = std::min(a[3], b[3]) - std::max(a[1], b[1]);
  if (iw <= 0 || ih <= 0) return 0;
  const float inter = iw * ih, ua = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return ua > 0 ? inter / ua : 0;
}

void match_tracks(std::vector<FaceTrack>& tracks, const std::vector<std::array<float, 4>>& boxes, int& next_id,
                  const OneEuro& proto, int coords, float min_iou) {
  struct Pair {
    float iou;
    int t, b;
  };
  std::vector<Pair> pairs;
  for (int t = 0; t < (int)tracks.size(); t++)
    for (int b = 0; b < (int)boxes.size(); b++) {
      const float iou = box_iou(tracks[t].box, boxes[b].data());
      if (iou >= min_iou) pairs.push_back({iou, t, b});
    }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& x, const Pair& y) { return x.iou > y.iou; });
  std::vector<int> of_box(boxes.size(), -1);
  std::vector<bool> used(tracks.size(), false);
  for (const Pair& p : pairs)
    if (!used[p.t] && of_box[p.b] < 0) used[p.t] = true, of_box[p.b] = p.t;
  std::vector<FaceTrack> next;
  for (size_t b = 0; b < boxes.size(); b++) {
    if (of_box[b] >= 0) next.push_back(std::move(tracks[of_box[b]]));
    else next.push_back({next_id++, {}, std::vector<OneEuro>(coords, proto), {}});
    std::copy(boxes[b].begin(), boxes[b].end(), next.back().box);
  }
  tracks = std::move(next);
}
