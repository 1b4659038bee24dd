// Limits on what a suite or rubric file may make the YAML parser do, checked before yaml-cpp builds
// a tree. Each limit counts what costs memory or stack, not what the file looks like:
//  - file bytes (read_file_bounded, 16 MiB),
//  - nesting depth (kMaxYamlDepth): yaml-cpp scans and recurses once per level before anything
//    could count nodes, so a cheap byte scan refuses deep nesting first (check_yaml_nesting),
//  - expanded size through aliases, in nodes and in scalar bytes (the event counter in
//    yaml_node.cpp): an anchored 1 MiB string referenced 3,000 times is 3 GB once copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace wobble {

// Lists and mappings inside one another, block and flow together. Honest suites stay below 15
// (a JSON schema inside a rubric's arguments is the deepest thing they hold).
inline constexpr int kMaxYamlDepth = 64;
// Entries of flow collections ([a, b], {k: v}) in one document. yaml-cpp queues every token of a
// flow collection that might be a mapping key before it reports a single event, so the node
// counter alone cannot stop 16 MB of "[],": the scan counts them first. Equal to the node limit.
inline constexpr uint64_t kMaxYamlFlowEntries = 1'000'000;
// Sum of scalar bytes once every alias is expanded.
inline constexpr uint64_t kMaxYamlExpandedBytes = uint64_t(64) << 20;  // 64 MiB

// Scans `text` (YAML or JSON) for nesting deeper than kMaxYamlDepth without building anything:
// flow brackets outside quotes and comments, block indentation levels and compact "- - x" entries,
// skipping block scalars (| and >); and counts flow entries against kMaxYamlFlowEntries
//   "s.yaml:1: more than 1000000 entries in flow collections ([...], {...}); refusing to load it"
// It may over-count an unusual layout by a level or two, never
// under-count the flow nesting yaml-cpp recurses on. Throws ConfigError
//   "s.yaml:7: nested too deeply at line 7 (more than 64 levels of lists and mappings); refusing to load it"
// Linear in the size of the text; allocates only an indentation stack bounded by kMaxYamlDepth.
void check_yaml_nesting(const std::string& file, std::string_view text);

}  // namespace wobble
