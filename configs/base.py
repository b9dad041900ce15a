"""Every key of a gnnpose-jax training run, set to the paper's GNN run on PoseTrack 2018 (W48).

The experiment configs beside this file import it and override a few keys; every key exists in
every config, so `--config.KEY=VALUE` works the same everywhere. Settings marked [ours] fill
gaps the paper leaves open (docs/method.md).

    python train.py --config configs/posetrack18_gnn_w48.py --workdir runs/pt18_gnn_w48 \
        --config.hrnet.checkpoint=runs/pt18_hrnet_w48/hrnet
"""

import dataclasses

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    """The full key set with the paper's GNN-mode settings."""
    config = ml_collections.ConfigDict()
    # What to train: "hrnet" (top-down heatmap regression), "gnn" (the pose-dynamics GNN on
    # a frozen HRNet's features) or "detector" (the YOLOX person detector).
    config.mode = "gnn"
    # Seeds parameter init, shuffling, augmentation and the step keys.
    config.seed = 0
    # "float32" or "bfloat16": the compute dtype of convolutions, matmuls and activations;
    # parameters, optimiser state, BatchNorm statistics and losses stay float32
    # (docs/training.md, Mixed precision). The exports record it for inference.
    config.compute_dtype = "float32"

    config.data = ml_collections.ConfigDict()
    # "synthetic": a synthetic world generated into `root` (or WORKDIR/synthetic_world) if
    # absent; "folder": a PoseTrack-layout folder (annotations/, images/); "tfds": a prepared
    # (or preparable) TFDS dataset, `root` its data_dir.
    config.data.source = "tfds"
    config.data.root = ""
    # TFDS dataset for source "tfds": posetrack18, posetrack17, posetrack21 or synthetic, and
    # its builder config ("" = the builder's first).
    config.data.tfds_name = "posetrack18"
    config.data.tfds_config = ""
    # The PoseTrack release folder for preparing the TFDS dataset ("" = <root>/downloads/manual).
    config.data.manual_dir = ""
    config.data.train_split = "train"
    config.data.val_split = "val"
    # People (HRNet mode) and GT poses (GNN mode) need at least this many annotated joints.
    config.data.min_joints = 1
    # Validate on at most this many examples, spread over the split (0 = all).
    config.data.max_val_examples = 0
    # grain worker processes, and threads/buffer computing examples in this process.
    config.data.num_workers = 0
    config.data.read_threads = 0
    config.data.read_buffer_size = 0
    # The synthetic world (source "synthetic"): seed, videos per split (tune: for choosing
    # tracker settings, written only when > 0), frames per video, frame size (H, W), val and
    # tune labelled every n-th frame.
    config.data.synthetic_seed = 0
    config.data.synthetic_train_videos = 20
    config.data.synthetic_val_videos = 4
    config.data.synthetic_tune_videos = 0
    config.data.synthetic_frames = 50
    config.data.synthetic_image_hw = (288, 384)
    config.data.synthetic_val_label_every = 1

    config.hrnet = ml_collections.ConfigDict()
    # Architecture (models.hrnet.HRNetConfig): HRNet-W48 at full depth.
    config.hrnet.width = 48
    config.hrnet.stem_channels = 64
    config.hrnet.layer1_blocks = 4
    config.hrnet.layer1_planes = 64
    config.hrnet.stage_modules = (1, 4, 3)
    config.hrnet.stage_blocks = (4, 4, 4)
    # Network input (H, W); heatmaps and features are 1/4 of it. Multiples of 32.
    config.hrnet.input_hw = (384, 288)
    # Heatmap Gaussian sigma in cells; 0 = 3 at 96 x 72, scaled with the heatmap width.
    config.hrnet.heatmap_sigma = 0.0
    # Train on visible joints only (official: targets weighted by the visibility flag);
    # validation counts every annotated joint, as the PoseTrack evaluation does.
    config.hrnet.visible_targets_only = True
    # HRNet mode: converted weights to start from (`python -m convert_weights`); "" = random.
    config.hrnet.init_checkpoint = ""
    # GNN mode: the frozen HRNet (an HRNet-mode run's WORKDIR/hrnet, or converted weights).
    config.hrnet.checkpoint = ""

    # Detector mode: YOLOX trained on the person boxes of the labeled frames (docs/training.md).
    config.detector = ml_collections.ConfigDict()
    # An official variant (nano, tiny, s, m, l, x) or "custom" (depth, width, depthwise below).
    config.detector.variant = "s"
    config.detector.depth = 0.33
    config.detector.width = 0.25
    config.detector.depthwise = False
    # Classes of the head; the person is class 0 (80 for COCO weights, 1 from scratch).
    config.detector.num_classes = 1
    # Weights to start from: a converted YOLOX folder or an official .pth; "" = random init.
    config.detector.checkpoint = ""
    # Network input (H, W), multiples of 32; frames are letterboxed into it (pad 114).
    config.detector.input_hw = (640, 640)
    # GT box slots per image; people with fewer visible joints are not targets.
    config.detector.max_boxes = 32
    config.detector.min_visible_joints = 1
    # Official HSV jitter; letterbox scale times U(1 - s, 1 + s) [ours]; flips: augment.flip_prob.
    config.detector.hsv = True
    config.detector.scale_jitter = 0.0
    # The L1 loss on raw box outputs in the last epochs (official: the last 15 of 300).
    config.detector.l1_last_epochs = 1.0
    # Validation detections (COCO evaluation's thresholds) for box AP.
    config.detector.eval_conf = 0.001
    config.detector.eval_nms = 0.65
    config.detector.eval_max_boxes = 100

    # Augmentation, both modes (official HRNet draws; GNN mode applies one draw per window).
    config.augment = ml_collections.ConfigDict()
    config.augment.scale_factor = 0.35
    config.augment.rotation_factor = 45.0
    config.augment.rotation_prob = 0.6
    config.augment.flip_prob = 0.5
    config.augment.half_body_prob = 0.3  # HRNet mode only

    config.gnn = ml_collections.ConfigDict()
    # n, history frames per graph.
    config.gnn.history = 3
    # A candidate every s feature cells: 48 x 36 candidates at 384 x 288.
    config.gnn.candidate_stride = 2
    # D, L, H.
    config.gnn.hidden = 128
    config.gnn.layers = 4
    config.gnn.heads = 4
    # Separate attention per edge type (spatial / temporal).
    config.gnn.typed_edges = True
    # False drops every temporal edge: the candidates never hear of the history (an ablation).
    config.gnn.temporal_edges = True
    # The softplus(w) * |p_i - p_j|^2 attention term [ours]; False is the paper's plain layer.
    config.gnn.relative_position_bias = True
    # Each head's attention-weighted sender offset sum_j alpha_ij (p_j - p_i) joins its message
    # [ours]; False is the paper's plain message.
    config.gnn.relative_offsets = True
    config.gnn.distance_weight_init = (1.0, 1000.0)
    # Node cues: sampled HRNet features, (dx, dy, score), joint-type embedding.
    config.gnn.use_visual = True
    config.gnn.use_position = True
    config.gnn.use_type = True
    # "dense" or "segment" attention (same outputs; dense is faster).
    config.gnn.attention_impl = "dense"
    # Candidate loss: "weighted_ce" (classes balanced per graph) or "focal" [ours].
    config.gnn.loss = "weighted_ce"
    config.gnn.focal_gamma = 2.0
    # tau_joint: history joints scoring below it get no node [ours].
    config.gnn.joint_threshold = 0.2
    # Candidate targets: Gaussian sigma (candidate cells) and foreground threshold [ours].
    config.gnn.target_sigma = 2.0
    config.gnn.target_threshold = 0.5
    # Decoding: 0 = argmax + 0.25 cell (docs/spec/method.md §3); r > 0 = the probability-weighted
    # centroid of the (2r + 1)^2 cells around the argmax [ours].
    config.gnn.decode_radius = 0
    # The current crop: last pose box x 1.25 x this [ours].
    config.gnn.track_enlarge = 1.2
    # History poses: "gt" (GT poses made estimate-like, below) or "hrnet" (the frozen HRNet's
    # estimates of each person, computed once and cached in WORKDIR/history_estimates) [ours].
    config.gnn.history_source = "gt"
    # History poses from GT, made estimate-like: jitter (x box side), dropout, scores [ours].
    config.gnn.history_jitter = 0.03
    config.gnn.history_dropout = 0.1
    config.gnn.history_score_range = (0.5, 1.0)

    config.optimizer = ml_collections.ConfigDict()
    # "adam" or "sgd"; the rate is multiplied by decay_factor at each of decay_epochs.
    config.optimizer.name = "adam"
    config.optimizer.learning_rate = 1e-4
    config.optimizer.decay_epochs = (5.0, 8.0)
    config.optimizer.decay_factor = 0.1
    # Linear warm-up over this many steps (0 = none); global-norm clipping (0 = none).
    config.optimizer.warmup_steps = 0
    config.optimizer.grad_clip_norm = 0.0
    # SGD momentum (0 = plain SGD).
    config.optimizer.momentum = 0.9

    # Global batch over all devices and processes; it must divide by the device count.
    config.batch_size = 32
    config.num_epochs = 10
    # Stop after this many steps instead of num_epochs (0 = use num_epochs).
    config.num_train_steps = 0

    # Periodic actions: each `*_every_steps` or `*_every_epochs` (the other 0; both 0 = only
    # at the end). Validation and a checkpoint also happen after the last step.
    config.log_every_steps = 50
    config.eval_every_steps = 0
    config.eval_every_epochs = 1.0
    config.checkpoint_every_steps = 0
    config.checkpoint_every_epochs = 1.0
    # Keep the latest k checkpoints, plus the one with the lowest validation loss.
    config.keep_checkpoints = 3
    # Validate once before the first step of a fresh run.
    config.eval_at_start = True
    config.progress_bar = True
    # The online tracker (evaluate.py tracker mode, python -m gnnpose_jax.track): every field of
    # `tracking.tracker.TrackerConfig` (documented there) at its default, docs/spec/method.md §1,
    # except n and tau_joint, which the tracker takes from the GNN export (gnn.history,
    # gnn.joint_threshold; `tracking.config`). Changing these never invalidates a training
    # checkpoint.
    config.tracker = ml_collections.ConfigDict(tracker_defaults())
    return config.lock()


def tracker_defaults() -> dict:
    """`TrackerConfig`'s defaults, less the settings the tracker takes from the GNN export."""
    from gnnpose_jax.tracking.config import FROM_GNN
    from gnnpose_jax.tracking.tracker import TrackerConfig

    defaults = dataclasses.asdict(TrackerConfig())
    return {k: v for k, v in defaults.items() if k not in FROM_GNN}
