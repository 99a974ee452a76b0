"""The regional innovation-capability monitoring index (区域科技创新能力监测评价): indicator sets, values, scores."""
