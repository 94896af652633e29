# Write tests/data/prediction_strength_r.json: what R's fpc::prediction.strength
# answers on the small datasets of the clusGap fixture, so that
# tests/test_prediction_strength.py can check sklearn_kmeans_lab's prediction
# strength against R without R installed.
#
# Needs base R and the 'fpc' package (Debian: r-base-core, r-cran-fpc).  Run
# from the repository root, after the datasets exist
# (python benchmarks/r/make_clusgap_datasets.py writes them):
#
#   Rscript benchmarks/r/make_prediction_strength_fixture.R
#
# About three minutes on one core.  prediction.strength is a Monte-Carlo estimate
# (M random splits per K), so every dataset is run with several seeds and the
# test takes its tolerances from R's own seed-to-seed spread.
#
# Clustering: fpc's default kmeansCBI, i.e. kmeansruns -> stats::kmeans
# (Hartigan-Wong, random starts).  kmeansCBI's own default is runs = 1, a
# single random start; RUNS = 10 starts (the best by within-cluster sum of
# squares is kept) match KSelector's default LloydKMeans(n_init=10), so that
# both sides score good partitions rather than the luck of one start.

suppressPackageStartupMessages(library(fpc))
source("benchmarks/r/json_writer.R")

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[[1]] else "tests/data"
out_path <- if (length(args) >= 2) args[[2]] else
  file.path(data_dir, "prediction_strength_r.json")

DATASETS <- c("three_blobs_2d", "income_age_scaled", "uniform_square", "four_blobs_5d")
SEEDS <- 1:6
G_MAX <- 8L
M <- 50L
CUTOFF <- 0.8
RUNS <- 10L

runs <- list()
datasets <- list()
for (name in DATASETS) {
  csv <- file.path(data_dir, paste0("clusgap_", name, ".csv"))
  x <- as.matrix(read.csv(csv))
  datasets[[name]] <- list(csv = basename(csv), n_samples = nrow(x), n_features = ncol(x))
  mean_pred <- matrix(NA_real_, length(SEEDS), G_MAX)
  se_pred <- matrix(NA_real_, length(SEEDS), G_MAX)
  optimal <- integer(length(SEEDS))
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_along(SEEDS)) {
    set.seed(SEEDS[[i]])
    ps <- prediction.strength(x, Gmin = 2, Gmax = G_MAX, M = M, cutoff = CUTOFF,
                              clustermethod = kmeansCBI, runs = RUNS)
    mean_pred[i, ] <- ps$mean.pred
    # fpc reports no standard error; this is sd over the M splits / sqrt(M)
    # (0 at K = 1, whose strength is 1 by definition).
    se_pred[i, ] <- c(0, vapply(2:G_MAX, function(k) sd(ps$predcorr[[k]]) / sqrt(M), 0))
    optimal[[i]] <- ps$optimalk
  }
  cat(sprintf("%-18s %5.1fs  optimal K: %s\n", name, proc.time()[["elapsed"]] - t0,
              paste(optimal, collapse = " ")))
  runs[[length(runs) + 1]] <- list(
    dataset = name,
    seeds = as.list(as.integer(SEEDS)),
    mean_pred = rows(mean_pred),
    se_pred = rows(se_pred),
    optimalk = as.list(optimal)
  )
}

fixture <- list(
  description = paste(
    "R fpc::prediction.strength outputs for tests/test_prediction_strength.py.",
    "mean_pred[seed][K-1] is fpc's mean.pred (1 at K = 1 by definition);",
    "se_pred[seed][K-1] the sd of the M split strengths / sqrt(M);",
    "optimalk the largest K with mean.pred > cutoff."),
  generated_by = "benchmarks/r/make_prediction_strength_fixture.R",
  r_version = R.version.string,
  fpc_version = as.character(packageVersion("fpc")),
  settings = list(clustermethod = "kmeansCBI", algorithm = "Hartigan-Wong",
                  runs = RUNS, Gmin = 2L, Gmax = G_MAX, M = M, cutoff = CUTOFF,
                  classification = "centroid"),
  datasets = datasets,
  runs = runs
)
writeLines(to_json(fixture), out_path)
cat("wrote", out_path, "\n")
