#pragma once
// The status page served at "/" (apps/orchestrator/web/status.html, compiled in: nothing to
// install or build for the user).
#include <string_view>

namespace livedub::orchestrator {

std::string_view status_page_html();

}  // namespace livedub::orchestrator
