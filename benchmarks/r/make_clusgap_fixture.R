# Write tests/data/clusgap_r.json: what R's cluster::clusGap and maxSE answer
# on small datasets and on hand-made vectors, so that tests/test_gap_vs_r.py can
# check sklearn_kmeans_lab's gap statistic against R without R installed.
#
# Needs only base R and the 'cluster' package (Debian: r-base-core, r-cran-cluster).
# Run from the repository root, after the datasets exist:
#
#   python benchmarks/r/make_clusgap_datasets.py   # writes tests/data/clusgap_*.csv
#   Rscript benchmarks/r/make_clusgap_fixture.R    # writes tests/data/clusgap_r.json
#
# About two minutes on one core.  Every clusGap run is repeated over SEEDS so
# that the test can derive its tolerances from R's own seed-to-seed spread
# instead of inventing them.

suppressPackageStartupMessages(library(cluster))

args <- commandArgs(trailingOnly = TRUE)
data_dir <- if (length(args) >= 1) args[[1]] else "tests/data"
out_path <- if (length(args) >= 2) args[[2]] else file.path(data_dir, "clusgap_r.json")

DATASETS <- c("three_blobs_2d", "income_age_scaled", "uniform_square", "four_blobs_5d")
SEEDS <- 1:10
K_MAX <- 8L
B <- 50L
NSTART <- 20L
ITER_MAX <- 50L
METHODS <- c("firstSEmax", "Tibs2001SEmax", "globalSEmax", "firstmax", "globalmax")
# d.power = 1 (R's default, pairwise distances not squared) is checked on one dataset.
D_POWER_1_DATASET <- "three_blobs_2d"

source("benchmarks/r/json_writer.R")  # num(), to_json(), rows()

# ---- (b) clusGap on the datasets, several seeds ----
run_clusgap <- function(x, space, d_power) {
  tabs <- vector("list", length(SEEDS))
  chosen <- matrix(NA_integer_, length(SEEDS), length(METHODS),
                   dimnames = list(NULL, METHODS))
  n_warn <- 0L
  for (i in seq_along(SEEDS)) {
    set.seed(SEEDS[[i]])
    # kmeans (Hartigan-Wong) may warn about Quick-TRANSfer steps on the
    # reference sets; count the warnings rather than print them.
    g <- withCallingHandlers(
      clusGap(x, FUNcluster = kmeans, K.max = K_MAX, B = B, d.power = d_power,
              spaceH0 = space, nstart = NSTART, iter.max = ITER_MAX),
      warning = function(w) { n_warn <<- n_warn + 1L; invokeRestart("muffleWarning") })
    tabs[[i]] <- g$Tab
    for (m in METHODS)
      chosen[i, m] <- maxSE(g$Tab[, "gap"], g$Tab[, "SE.sim"], method = m, SE.factor = 1)
  }
  col <- function(name) rows(t(vapply(tabs, function(t) t[, name], numeric(K_MAX))))
  list(
    spaceH0 = space,
    d_power = as.integer(d_power),
    seeds = as.list(as.integer(SEEDS)),
    logW = col("logW"),
    E_logW = col("E.logW"),
    gap = col("gap"),
    SE_sim = col("SE.sim"),
    # 1-based K chosen by maxSE(gap, SE.sim, method, SE.factor = 1), per seed.
    k_chosen = setNames(lapply(METHODS, function(m) as.list(chosen[, m])), METHODS),
    n_kmeans_warnings = n_warn
  )
}

# The partitions behind logW: clusGap keeps only logW, so rerun it (same seed,
# so the data are clustered exactly as in the first seed's run above: the data
# fits come first and consume the same random numbers whatever B is) with a
# FUNcluster that records the labels of the fits of the data itself.  The test
# recomputes W_k from these labels, checking the definition of W_k without
# depending on which local optimum a k-means run finds.
record_partitions <- function(x, d_power, seed) {
  labels <- vector("list", K_MAX)
  labels[[1]] <- rep(1L, nrow(x))
  recording_kmeans <- function(X, k, ...) {
    fit <- kmeans(X, k, ...)
    if (identical(X, x)) labels[[k]] <<- fit$cluster  # not the reference sets
    fit
  }
  set.seed(seed)
  g <- clusGap(x, FUNcluster = recording_kmeans, K.max = K_MAX, B = 2, d.power = d_power,
               nstart = NSTART, iter.max = ITER_MAX)
  list(d_power = as.integer(d_power), seed = as.integer(seed), logW = unname(g$Tab[, "logW"]),
       labels = lapply(labels, function(l) as.list(as.integer(l))))
}

clusgap <- list()
partitions <- list()
datasets <- list()
for (name in DATASETS) {
  csv <- file.path(data_dir, paste0("clusgap_", name, ".csv"))
  x <- as.matrix(read.csv(csv))
  datasets[[name]] <- list(csv = basename(csv), n_samples = nrow(x), n_features = ncol(x))
  powers <- if (name == D_POWER_1_DATASET) c(2, 1) else 2
  for (d_power in powers) for (space in c("scaledPCA", "original")) {
    t0 <- proc.time()[["elapsed"]]
    run <- run_clusgap(x, space, d_power)
    cat(sprintf("%-18s %-9s d.power=%d  %5.1fs  Tibs2001SEmax K: %s\n", name, space,
                d_power, proc.time()[["elapsed"]] - t0,
                paste(unlist(run$k_chosen$Tibs2001SEmax), collapse = " ")))
    clusgap[[length(clusgap) + 1]] <- c(list(dataset = name), run)
  }
  for (d_power in powers)
    partitions[[length(partitions) + 1]] <- c(list(dataset = name),
                                              record_partitions(x, d_power, SEEDS[[1]]))
}

# ---- (c) maxSE on hand-made vectors ----
# Values are multiples of powers of two where a comparison sits exactly on a
# boundary (f[k] == f[k+1] - SE.factor * SE.f[k+1]), so that R and Python see
# the same doubles and the ">=" in maxSE is what decides.
set.seed(2024)
random_curve <- function(K) list(f = cumsum(rnorm(K, 0.1, 0.3)), se = runif(K, 0, 0.3))
rc <- lapply(1:6, function(i) random_curve(c(3, 5, 8, 10, 10, 12)[[i]]))
vectors <- list(
  list(name = "single_k", f = 0.4, se = 0.1),
  list(name = "two_k_increasing", f = c(0.1, 0.3), se = c(0.05, 0.05)),
  list(name = "two_k_decreasing", f = c(0.3, 0.1), se = c(0.05, 0.05)),
  list(name = "monotone_increasing_small_se", f = c(0.1, 0.2, 0.4, 0.7, 1.1), se = rep(0.01, 5)),
  list(name = "monotone_increasing_large_se", f = c(0.1, 0.2, 0.4, 0.7, 1.1), se = rep(0.5, 5)),
  list(name = "monotone_decreasing", f = c(1, 0.8, 0.5, 0.2, -0.1), se = rep(0.05, 5)),
  list(name = "max_at_first", f = c(0.9, 0.5, 0.6, 0.4), se = c(0.1, 0.1, 0.1, 0.1)),
  list(name = "max_at_last", f = c(0.1, 0.3, 0.25, 0.8), se = c(0.05, 0.05, 0.05, 0.05)),
  list(name = "flat_zero_se", f = rep(0.3, 5), se = rep(0, 5)),
  list(name = "flat_with_se", f = rep(0.3, 5), se = rep(0.1, 5)),
  list(name = "tie_for_max", f = c(0.1, 0.5, 0.5, 0.3), se = rep(0.05, 4)),
  list(name = "tie_for_max_later", f = c(0.1, 0.5, 0.2, 0.5, 0.3), se = rep(0.05, 5)),
  list(name = "plateau_then_rise", f = c(0.25, 0.5, 0.5, 0.5, 1), se = rep(0.125, 5)),
  list(name = "exact_se_boundary", f = c(1, 1.5, 2, 2.25), se = c(0.5, 0.5, 0.5, 0.25)),
  list(name = "local_then_global_max", f = c(0.2, 0.6, 0.55, 0.7, 0.9, 0.85), se = rep(0.05, 6)),
  list(name = "all_negative", f = c(-0.5, -0.2, -0.3, -0.1), se = c(0.1, 0.1, 0.05, 0.2)),
  list(name = "gap_like_elbow", f = c(-0.1, 0.1, 0.47, 1.16, 1.22, 1.19, 1.16, 1.16),
       se = c(0.086, 0.074, 0.064, 0.076, 0.072, 0.072, 0.071, 0.069)),
  list(name = "random_3", f = rc[[1]]$f, se = rc[[1]]$se),
  list(name = "random_5", f = rc[[2]]$f, se = rc[[2]]$se),
  list(name = "random_8", f = rc[[3]]$f, se = rc[[3]]$se),
  list(name = "random_10a", f = rc[[4]]$f, se = rc[[4]]$se),
  list(name = "random_10b", f = rc[[5]]$f, se = rc[[5]]$se),
  list(name = "random_12", f = rc[[6]]$f, se = rc[[6]]$se)
)
SE_FACTORS <- c(0, 0.5, 1, 2, 3)
maxse_cases <- lapply(vectors, function(v) {
  # One entry per SE.factor: the 1-based index maxSE returns for each method.
  k <- lapply(SE_FACTORS, function(s)
    setNames(lapply(METHODS, function(m) maxSE(v$f, v$se, method = m, SE.factor = s)),
             METHODS))
  list(name = v$name, f = as.list(v$f), se_f = as.list(v$se),
       se_factors = as.list(SE_FACTORS), k = k)
})

fixture <- list(
  description = paste(
    "R cluster::clusGap and maxSE outputs for tests/test_gap_vs_r.py.",
    "Indices in k_chosen and maxse[].k are R's, 1-based.",
    "clusgap[].logW etc. are [seed][K-1] arrays; W_k = 0.5 * sum_r sum_{i<j in r}",
    "d_ij^d_power / n_r, so with d_power = 2 W_k is half the within-cluster SS.",
    "partitions[].labels[K-1] are the kmeans labels (1-based) behind partitions[].logW[K-1]."),
  generated_by = "benchmarks/r/make_clusgap_fixture.R",
  r_version = R.version.string,
  cluster_version = as.character(packageVersion("cluster")),
  clusgap_settings = list(FUNcluster = "kmeans", algorithm = "Hartigan-Wong",
                          K_max = K_MAX, B = B, nstart = NSTART, iter_max = ITER_MAX,
                          SE_factor = 1),
  datasets = datasets,
  clusgap = clusgap,
  partitions = partitions,
  maxse = maxse_cases
)
writeLines(to_json(fixture), out_path)
cat("wrote", out_path, "\n")
