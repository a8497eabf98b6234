// train.cpp: the training loop, on one screen: next batch, forward, loss, zero_grad, backward, step, log.
#include "pipnet/train.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "data/spec.h"
#include "kernels/dispatch.h"
#include "pipnet/dist.h"
#include "pipnet/evaluate.h"
#include "pipnet/heads.h"
#include "pipnet/progress.h"
#include "pipnet/run.h"
#include "tensor/fileio.h"

static double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int train(const TrainConfig& cfg, bool resume, bool verbose) {
  // ---- set-up: everything is read and checked before anything is written ----
  cfg.validate();
  const int R = dist::size();  // ranks under mpirun (pipnet/dist.h); rank 0 alone writes files and prints
  const bool root = dist::is_root();
  if (cfg.recipe.batch % R)
    throw Error(strf("batch %d cannot be split evenly over %d ranks: --batch is the global batch", cfg.recipe.batch, R));
  dist::set_timeout(cfg.run.comm_timeout);
  const std::string& out = cfg.run.out;
  const std::string ckpt = out + "/checkpoint.safetensors", logf = out + "/log.csv";
  if (!resume && path_exists(ckpt))
    throw Error(out + " already holds a run (checkpoint.safetensors): use --resume, or another --out");
  if (resume && !path_exists(ckpt)) throw Error(ckpt + ": nothing to resume");
  const Device dev = device_of(cfg.run.device);
  if (dev != Device::CPU) dist::use_nccl();  // before the first CUDA allocation: it picks this rank's GPU
  Dataset train_set = open_dataset(cfg.data.data, cfg.model.input_size, cfg.data.scales(), cfg.run.seed);
  Dataset test_set;
  if (!cfg.data.test_data.empty())
    test_set = open_dataset(cfg.data.test_data, cfg.model.input_size, cfg.data.scales(), cfg.run.seed);
  const int N = train_set.n_points;
  if (test_set.size && test_set.n_points != N)
    throw Error(strf("test data has %d points, the training data %d", test_set.n_points, N));
  const MeanFace mf = resume ? MeanFace::load(out + "/meanface.txt")
                      : cfg.data.meanface == "auto" ? MeanFace::from_samples(train_set.labels)
                                                    : MeanFace::load(cfg.data.meanface);
  if (mf.N != N) throw Error(strf("the mean face has %d points, the data %d", mf.N, N));
  const Neighbors nbr = Neighbors::from_meanface(mf, cfg.model.num_nb);

  Rng rng(cfg.run.seed);
  PipConfig pc = cfg.model;
  pc.num_lms = N;
  PIPNet net(pc, rng);
  if (!cfg.recipe.pretrained.empty()) load_pretrained_trunk(net, cfg.recipe.pretrained);
  if (!cfg.recipe.init.empty() && !resume) load_model_weights(net, cfg.recipe.init);  // resume: the checkpoint's
  net.to(dev);  // before the optimizer: its state lives beside the parameters
  Adam opt(net.parameters(), cfg.recipe.lr, 0.9, 0.999, 1e-8, cfg.weight_decay());
  const MultiStepLR sched{cfg.recipe.lr, cfg.decay_epochs(), cfg.recipe.gamma};
  int start_epoch = 0;
  std::vector<EpochLog> log;
  if (resume) {
    start_epoch = load_checkpoint(ckpt, net, &opt, cfg.recipe.epochs);
    log = read_log(logf, start_epoch);
    std::fprintf(stderr, "resuming %s after epoch %d\n", out.c_str(), start_epoch);
  }
  LoaderConfig lc;
  lc.batch = cfg.recipe.batch;
  lc.workers = cfg.run.workers;
  lc.seed = cfg.run.seed;
  lc.rank = dist::rank();
  lc.ranks = R;
  lc.augment = cfg.data.augment;
  lc.aug = cfg.data.aug;
  lc.flip_table = cfg.data.flip_table.empty() ? flip_table(N) : read_flip_table(cfg.data.flip_table, N);
  Loader loader(train_set.source, train_set.size, cfg.model.input_size, lc);
  const int64_t per_epoch = cfg.run.max_batches > 0 ? std::min(cfg.run.max_batches, loader.batches_per_epoch())
                                                    : loader.batches_per_epoch();
  if (per_epoch == 0)
    throw Error(strf("%lld training samples make no batch of %d (the last partial batch is dropped)",
                     (long long)train_set.size, cfg.recipe.batch));
  std::unique_ptr<dist::GradReducer> reducer;  // R > 1: gradients averaged over the ranks every step
  if (R > 1) reducer = std::make_unique<dist::GradReducer>(net.parameters());
  if (R > 1 && cfg.run.sync_bn) ag::set_batchnorm_sync([](double* v, int n) { dist::allreduce_sum(v, n, "sync-bn statistics"); });
  if (verbose && root) {
    const int S = cfg.model.input_size;
    std::fprintf(stderr, "%s\n%s\n", summary(net, Shape{cfg.recipe.batch, 3, S, S}).c_str(), kern::dispatch_table().c_str());
  }
  if (root) {
    make_dirs(out);
    cfg.save(out + "/config.txt");
    if (!resume) write_meanface(mf, out + "/meanface.txt");
  }
  if (R > 1 && root)
    std::fprintf(stderr, "data-parallel over %d ranks (%s): %d images per rank per step, %s BatchNorm, %d gradient "
                         "buckets, %.1f MB all-reduced per step\n", R, dist::transport().c_str(), cfg.recipe.batch / R,
                 cfg.run.sync_bn ? "synchronised" : "per-rank", reducer->buckets(), reducer->bytes_per_step() / 1e6);
  if (root) std::fprintf(stderr, "training %s %dx%d stride %d, %s head, %d landmarks, %lld samples (%lld batches of %d per epoch), "
                       "Adam lr %g wd %g, %d epochs, decay at [%s]\n",
               cfg.model.backbone.c_str(), cfg.model.input_size, cfg.model.input_size, cfg.model.net_stride, cfg.model.head.c_str(), N,
               (long long)train_set.size, (long long)per_epoch, cfg.recipe.batch, cfg.recipe.lr, cfg.weight_decay(),
               cfg.recipe.epochs, cfg.recipe.decay.c_str());

  // ---- the loop ----
  const auto run_t0 = std::chrono::steady_clock::now();
  net.train();
  for (int epoch = start_epoch; epoch < cfg.recipe.epochs; epoch++) {
    opt.set_lr(sched.lr_at(epoch));
    loader.start_epoch(epoch);
    Progress bar{strf("epoch %d/%d", epoch + 1, cfg.recipe.epochs), per_epoch};
    double comm_s = 0;  // time spent waiting for the gradient all-reduce
    EpochLog e{epoch, opt.lr(), 0, 0, 0, 0, 0, 0, 0, 0};
    const auto t0 = std::chrono::steady_clock::now();
    Batch b;
    for (int64_t step = 0; step < per_epoch && loader.next(b); step++) {
      const int64_t global = (int64_t)epoch * per_epoch + step + 1;
      const bool me = cfg.run.die_rank < 0 || cfg.run.die_rank == dist::rank();
      if (cfg.run.die_at_step && global == cfg.run.die_at_step && me) {
        std::fprintf(stderr, "\ndie_at_step %lld: exiting as a kill would\n", (long long)global);
        std::_Exit(137);
      }
      if (cfg.run.stall_at_step && global == cfg.run.stall_at_step && me)
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // a wedged rank: only comm_timeout ends this
      PipLoss L = head_loss(net.cfg, net.run(b.images.to(dev)), b.lms, nbr, cfg.loss);  // pipnet/heads.h
      const double loss = L.total.item();
      if (!std::isfinite(loss)) {
        ag::clear_tape();
        throw Error(strf("loss is %g at epoch %d step %lld: stopping; the last good checkpoint (%s, after epoch %d) "
                         "is kept. Lower --lr or check the data.", loss, epoch + 1, (long long)step + 1, ckpt.c_str(), epoch));
      }
      if (reducer) {  // the all-reduce starts bucket by bucket during the backward pass
        reducer->zero_grad();
        const double w0 = reducer->seconds_waiting();
        ag::backward(L.total, [&] { reducer->ready(); });
        reducer->finish();
        comm_s += reducer->seconds_waiting() - w0;
      } else {
        opt.zero_grad();
        ag::backward(L.total);
      }
      opt.step();
      e.loss += loss / per_epoch;
      e.score += L.score.item() / per_epoch;
      e.x += L.x.item() / per_epoch;
      e.y += L.y.item() / per_epoch;
      e.nb_x += L.nb_x.item() / per_epoch;
      e.nb_y += L.nb_y.item() / per_epoch;
      if (root) bar.update(step + 1, (step + 1) * cfg.recipe.batch, strf("loss %.4f", e.loss * per_epoch / (step + 1)));
    }
    if (R > 1) {  // the epoch's losses averaged over the ranks, as one process over the whole batch would log them
      double l[6] = {e.loss, e.score, e.x, e.y, e.nb_x, e.nb_y};
      dist::allreduce_sum(l, 6, "the epoch's losses");
      e.loss = l[0] / R, e.score = l[1] / R, e.x = l[2] / R, e.y = l[3] / R, e.nb_x = l[4] / R, e.nb_y = l[5] / R;
    }
    e.seconds = seconds_since(t0);
    e.images_per_s = per_epoch * cfg.recipe.batch / e.seconds;

    // ---- end of epoch: test, checkpoint, log ----
    const bool last = epoch + 1 == cfg.recipe.epochs;
    if (R > 1 && root)
      std::fprintf(stderr, "  all-reduce: %.1f%% of the epoch spent waiting for it\n", 100 * comm_s / e.seconds);
    const bool out_of_time = dist::agree(cfg.run.time_limit_s > 0 && seconds_since(run_t0) > cfg.run.time_limit_s,
                                         "the time-limit decision");
    if (test_set.size && ((epoch + 1) % cfg.run.eval_every == 0 || last || out_of_time)) {
      TestReport r = run_test(net, nbr, test_set, cfg.recipe.batch);
      e.test_nme = r.merged.mean_nme;
      e.test_fr = r.merged.fr;
      e.test_auc = r.merged.auc;
      if (root) std::fprintf(stderr, "  test: NME %.3f%%  FR@0.1 %.2f%%  AUC@0.1 %.4f  (unmerged NME %.3f%%)\n", 100 * e.test_nme,
                   100 * e.test_fr, e.test_auc, 100 * r.unmerged.mean_nme);
    }
    log.push_back(e);
    if (root) {
      save_checkpoint(ckpt, net, opt, epoch + 1, cfg.run.seed);
      write_log(logf, log);
      plot_log(out + "/loss.png", log);
    }
    if (out_of_time && !last) {
      if (root) std::fprintf(stderr, "time limit %.0f s reached after epoch %d\n", cfg.run.time_limit_s, epoch + 1);
      break;
    }
  }
  ag::set_batchnorm_sync({});
  if (root) {
    save_weights(net, out + "/model.safetensors");
    std::fprintf(stderr, "wrote %s/model.safetensors, log.csv, loss.png\n", out.c_str());
  }
  dist::barrier("the end of training");  // no rank leaves before rank 0 has written the model
  return 0;
}
