// Small helpers to build prometheus::MetricFamily values by hand, for collectors that read
// their figures at scrape time instead of keeping prometheus-cpp metric objects.
#pragma once

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace vnet::metrics {

using Labels = std::vector<prometheus::ClientMetric::Label>;

prometheus::MetricFamily NewFamily(std::string name, std::string help, prometheus::MetricType type);
void AddSample(prometheus::MetricFamily& family, const Labels& labels, double value);

}  // namespace vnet::metrics
