// video.h: videos in and out through ffmpeg, started as a subprocess (Debian's ffmpeg package; nothing is linked),
// and the temporal smoothing `pipnet infer VIDEO --smooth` applies to landmarks.
//
//   probe_video:  ffprobe -> frame rate, frame count (when the container knows it), size
//   VideoReader:  ffmpeg -i FILE -f image2pipe -c:v ppm pipe:1   -> one P6 PPM per frame on a pipe; each carries
//                 its own size, so a rotated phone video (which ffmpeg turns upright) needs no special case
//   VideoWriter:  raw rgb24 frames on a pipe -> ffmpeg -> H.264 MP4, written to PATH.tmp and renamed into place
//                 by finish(); destroyed unfinished (an error on the way), it stops ffmpeg and removes PATH.tmp
// Every failure is an Error naming the file and ending with what ffmpeg said.
#pragma once
#include <sys/types.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "data/image.h"

// .mp4 .m4v .mov .avi .mkv .webm .mpg .mpeg .wmv .flv .ts .3gp .ogv .gif .y4m, by extension (any case).
bool is_video_path(const std::string& path);
// The program's path on $PATH, or "" when there is none.
std::string find_program(const std::string& name);

struct VideoInfo {
  double fps = 0;         // average frame rate (frames per second); 0 when ffprobe gives none
  int64_t frames = 0;     // frame count from the container, else duration x fps (0: unknown)
  int w = 0, h = 0;       // coded size (before any rotation ffmpeg applies when decoding)
};
VideoInfo probe_video(const std::string& path);

// A child process with one end of a pipe; its stderr goes to a temporary file, read back for error messages.
struct Child {
  pid_t pid = -1;
  int fd = -1;           // our end: its stdout (reading) or its stdin (writing)
  std::string err_path;  // its stderr
  std::string stderr_tail() const;  // the last non-empty line of what it wrote on stderr
  int wait();            // closes our end, waits; the exit status (128 + signal when killed)
  void kill_and_wait();
};
Child spawn(const std::vector<std::string>& argv, bool we_write);

class VideoReader {
 public:
  explicit VideoReader(const std::string& path);
  ~VideoReader();
  bool next(Image& frame);  // false at the end; an Error if ffmpeg fails on the way
  int64_t frames_read() const { return n_; }

 private:
  std::string path_;
  Child ff_;
  std::vector<uint8_t> buf_;
  size_t have_ = 0, pos_ = 0;
  bool eof_ = false;
  int64_t n_ = 0;
  int get();  // one byte, -1 at the end
  size_t read_into(uint8_t* dst, size_t n);
};

class VideoWriter {
 public:
  VideoWriter(const std::string& path, int w, int h, double fps);
  ~VideoWriter();  // unfinished: stops ffmpeg, removes the temporary file
  void write(const Image& frame);  // frames of another size are resized to the first's
  void finish();                    // ffmpeg finishes the file; it is renamed into place

 private:
  std::string path_, tmp_;
  int w_, h_;
  Child ff_;
  bool done_ = false;
};

// The One Euro filter (Casiez, Roussel & Vogel, CHI 2012): a first-order low-pass filter whose cutoff rises with
// the signal's speed, so a still landmark is smoothed hard (cutoff min_cutoff Hz) and a moving one lags little
// (cutoff min_cutoff + beta * |speed|, speed in units per second, itself low-passed at d_cutoff Hz).
//   alpha(fc, dt) = 1 / (1 + tau / dt),  tau = 1 / (2 pi fc);   y = y_prev + alpha (x - y_prev)
struct OneEuro {
  double min_cutoff = 1.0, beta = 0.05, d_cutoff = 1.0;
  bool started = false;
  double y = 0, dy = 0;
  static double alpha(double fc, double dt) { return 1.0 / (1.0 + 1.0 / (2 * M_PI * fc * dt)); }
  double operator()(double x, double dt) {
    if (!started || dt <= 0) {
      started = true, y = x, dy = 0;
      return y;
    }
    dy += alpha(d_cutoff, dt) * ((x - y) / dt - dy);
    y += alpha(min_cutoff + beta * std::fabs(dy), dt) * (x - y);
    return y;
  }
};

// Faces followed from frame to frame: each face of a frame takes the track whose last box overlaps it most (IoU at
// least min_iou, greedy, best pairs first); the others start new tracks, and tracks not seen in a frame end.
struct FaceTrack {
  int id;
  float box[4];                // last box x0, y0, x1, y1
  std::vector<OneEuro> filt;   // one per landmark coordinate
  std::vector<float> last;     // the points given for it in the last frame
};
float box_iou(const float a[4], const float b[4]);
// Afterwards tracks[i] is the track of boxes[i] (x0, y0, x1, y1): continued, or new (id next_id++, `coords` copies
// of `proto`); tracks not continued are gone.
void match_tracks(std::vector<FaceTrack>& tracks, const std::vector<std::array<float, 4>>& boxes, int& next_id,
                  const OneEuro& proto, int coords, float min_iou = 0.3f);

// `pipnet infer VIDEO`: every frame's faces and landmarks (pipnet/landmarks.h) as JSON Lines on stdout and in
// OUT/<name>.jsonl, the frames drawn into OUT/<name>_landmarks.mp4, a progress bar in frames/s.
class FaceDetector;
struct LandmarkRunner;
struct DetectOptions;
struct VideoOptions {
  std::string out_dir;
  bool smooth = false;
  OneEuro filter;   // the prototype of every coordinate's filter (its three parameters)
  float match_iou = 0.3f;
};
void infer_video(const std::string& path, const VideoOptions& vo, FaceDetector& det, const DetectOptions& dopt,
                 LandmarkRunner& lm);
