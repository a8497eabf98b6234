// fileio.h: files that are never half-written, and the few file-system questions the program asks.
//
// Every output file of the project goes through write_file_atomic: the bytes go to PATH.tmp, which is flushed and
// renamed over PATH, so a reader (or a run killed at any instant) sees either the old file or the new one. When
// anything fails (a full disk, a missing folder), the temporary file is removed and an Error names the path.
#pragma once
#include <functional>
#include <ostream>
#include <string>

void write_file_atomic(const std::string& path, const std::string& bytes);
// The streaming form, for large files: `fill` writes the content to the stream.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& fill);

// A string as the inside of a JSON string literal (quotes, backslashes and control characters escaped).
std::string json_escape(const std::string& s);

bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
void make_dirs(const std::string& path);  // mkdir -p; Error naming the path when it cannot be made
