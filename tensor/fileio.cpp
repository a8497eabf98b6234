#include "tensor/fileio.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "tensor/check.h"

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& fill) {
  const std::string tmp = path + ".tmp";
  try {
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      if (!f) throw Error(path + ": cannot write (cannot create " + tmp + ")");
      fill(f);
      f.flush();
      if (!f) throw Error(path + ": write failed (disk full?)");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(path + ": cannot rename " + tmp + " into place");
  } catch (...) {
    std::remove(tmp.c_str());  // a partial file must not stay behind (it would keep a full disk full)
    throw;
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, [&](std::ostream& f) { f.write(bytes.data(), (std::streamsize)bytes.size()); });
}

bool path_exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

bool is_directory(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

void make_dirs(const std::string& p) {
  if (p.empty()) throw Error("empty directory name");
  for (size_t i = 1; i <= p.size(); i++)
    if (i == p.size() || p[i] == '/') mkdir(p.substr(0, i).c_str(), 0755);
  if (!is_directory(p)) throw Error(p + ": cannot create directory");
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += (char)c; }
    else if (c < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); o += b; }
    else o += (char)c;
  }
  return o;
}
