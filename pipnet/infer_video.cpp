// pipnet infer VIDEO: the photo pipeline (pipnet/landmarks.h) on every frame of a video decoded by ffmpeg
// (pipnet/video.h), with optional temporal smoothing. Per frame, one JSON line:
//   {"frame": i, "time": seconds, "faces": [{"track": id, "box": [x0, y0, x1, y1], "score": p,
//     "points": [[x, y], ...], "confidence": [...]}, ...]}
// Faces are followed from frame to frame by box IoU (a track id per face). With --smooth each landmark coordinate
// of a track goes through its own One Euro filter (dt = 1 / fps); "points" are then the filtered ones, and the
// drawn video shows them. Without it the output is frame-by-frame, as the official demo_video.py.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "pipnet/landmarks.h"
#include "pipnet/progress.h"
#include "pipnet/video.h"
#include "tensor/fileio.h"

void infer_video(const std::string& path, const VideoOptions& vo, FaceDetector& det, const DetectOptions& dopt,
                 LandmarkRunner& lm) {
  const VideoInfo info = probe_video(path);
  std::string stem = path.substr(path.find_last_of('/') + 1);
  stem = stem.substr(0, stem.find_last_of('.'));
  const std::string video_out = vo.out_dir + "/" + stem + "_landmarks.mp4", lines_out = vo.out_dir + "/" + stem + ".jsonl";
  VideoReader reader(path);
  std::unique_ptr<VideoWriter> writer;  // opened at the first frame, whose size it takes
  std::vector<FaceTrack> tracks;
  int next_id = 0;
  int64_t faces_seen = 0, frames_with_faces = 0;
  double motion = 0;  // sum over consecutive frames of a track of the mean |dx| + |dy| per coordinate
  int64_t motion_n = 0;
  const double dt = 1.0 / info.fps;
  Progress bar{"infer", std::max<int64_t>(info.frames, 1)};
  bar.unit = "frames/s";
  const auto t0 = std::chrono::steady_clock::now();
  write_file_atomic(lines_out, [&](std::ostream& os) {
    Image frame;
    while (reader.next(frame)) {
      const int64_t i = reader.frames_read() - 1;
      std::vector<FaceResult> faces = find_landmarks(frame, det, dopt, lm);
      std::vector<std::array<float, 4>> boxes;
      for (const FaceResult& f : faces) boxes.push_back({f.box.x0, f.box.y0, f.box.x1, f.box.y1});
      std::vector<std::vector<float>> before;  // each track's last points, for the motion statistic
      for (const FaceTrack& t : tracks) before.push_back(t.last);
      std::vector<int> old_ids;
      for (const FaceTrack& t : tracks) old_ids.push_back(t.id);
      const int coords = faces.empty() ? 0 : (int)faces[0].points.size();
      match_tracks(tracks, boxes, next_id, vo.filter, coords, vo.match_iou);
      std::string js;
      for (size_t k = 0; k < faces.size(); k++) {
        FaceResult& f = faces[k];
        FaceTrack& t = tracks[k];
        if (vo.smooth)
          for (size_t c = 0; c < f.points.size(); c++) f.points[c] = (float)t.filt[c](f.points[c], dt);
        for (size_t o = 0; o < old_ids.size(); o++)  // the same track in the previous frame
          if (old_ids[o] == t.id && before[o].size() == f.points.size()) {
            double d = 0;
            for (size_t c = 0; c < f.points.size(); c++) d += std::fabs(f.points[c] - before[o][c]);
            motion += d / f.points.size(), motion_n++;
          }
        t.last = f.points;
        std::string pts, conf;
        for (size_t c = 0; c < f.points.size(); c += 2) {
          pts += strf("%s[%.2f, %.2f]", c ? ", " : "", f.points[c], f.points[c + 1]);
          conf += strf("%s%.4f", c ? ", " : "", f.confidence[c / 2]);
        }
        js += strf("%s{\"track\": %d, \"box\": [%.2f, %.2f, %.2f, %.2f], \"score\": %.5f, \"points\": [%s], "
                   "\"confidence\": [%s]}",
                   k ? ", " : "", t.id, f.box.x0, f.box.y0, f.box.x1, f.box.y1, f.box.score, pts.c_str(), conf.c_str());
      }
      const std::string line = strf("{\"frame\": %lld, \"time\": %.4f, \"faces\": [%s]}\n", (long long)i, i * dt, js.c_str());
      os << line;
      if (std::fputs(line.c_str(), stdout) < 0 || std::fflush(stdout) != 0)
        throw Error("cannot write to standard output");
      faces_seen += (int64_t)faces.size();
      frames_with_faces += !faces.empty();
      draw_faces(frame, faces);
      if (!writer) writer = std::make_unique<VideoWriter>(video_out, frame.w, frame.h, info.fps);
      writer->write(frame);
      if (i + 1 > bar.total) bar.total = std::max(i + 1, bar.total * 2);  // the count was an estimate, or unknown
      bar.update(i + 1, i + 1);
    }
    if (reader.frames_read() == 0) throw Error(path + ": the video has no frames");
    if (bar.total != reader.frames_read()) bar.total = reader.frames_read(), bar.update(bar.total, bar.total);
    writer->finish();
  });
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int64_t n = reader.frames_read();
  std::fprintf(stderr, "%lld frames (%.3g fps) in %.1f s, %.1f frames/s; %lld faces in %lld frames%s\n", (long long)n,
               info.fps, s, n / std::max(s, 1e-9), (long long)faces_seen, (long long)frames_with_faces,
               vo.smooth ? strf(", smoothed (One Euro: min cutoff %g Hz, beta %g, d cutoff %g Hz)", vo.filter.min_cutoff,
                                vo.filter.beta, vo.filter.d_cutoff).c_str() : "");
  if (motion_n)
    std::fprintf(stderr, "landmark motion between consecutive frames of a face: %.3f px (mean |dx|, |dy|)\n",
                 motion / motion_n);
  std::fprintf(stderr, "drawn into %s, landmarks in %s\n", video_out.c_str(), lines_out.c_str());
}
