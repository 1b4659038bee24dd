// Loads rubric files (YAML/JSON in rubrics/) and inline criteria lists. Validates every criterion
// by building its scorer once, so bad scorer arguments fail at load time with file:line:field.
#pragma once

#include <string>

#include "suite/suite.h"
#include "suite/yaml_node.h"

namespace wobble {

// A rubric file: name, description, answer_extractor, criteria.
Rubric load_rubric_file(const std::string& path);
// A rubric given inline in a suite: either a mapping like a rubric file, or a bare criteria list.
Rubric parse_rubric_node(const YamlNode& node);
ExtractorSpec parse_extractor(const YamlNode& node);

}  // namespace wobble
