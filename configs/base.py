"""Every key of a gnnpose-jax training run, set to the paper's GNN run on PoseTrack 2018 (W48).

The keys come in sections, one function each: the run's own top-level keys, `data`, `augment`
and `optimizer` (every mode), `hrnet` (HRNet and GNN modes), `gnn` (GNN mode), `detector`
(detector mode) and `tracker` (read at inference only). Which mode reads which sections is
`gnnpose_jax.training.config.MODE_SECTIONS`: a resumed run compares only those. The experiment
configs beside this file import it and override a few keys; every key exists in every config,
so `--config.KEY=VALUE` works the same everywhere. Building a config imports no JAX. Settings
marked [ours] fill gaps the paper leaves open (docs/method.md).

    python train.py --config configs/posetrack18_gnn_w48.py --workdir runs/pt18_gnn_w48 \
        --config.hrnet.checkpoint=runs/pt18_hrnet_w48/hrnet
"""

import ml_collections

from gnnpose_jax.tracking.tracker import config_section_defaults


def get_config() -> ml_collections.ConfigDict:
    """The full key set with the paper's GNN-mode settings, locked."""
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
    config.data = data_section()
    config.hrnet = hrnet_section()
    config.detector = detector_section()
    config.augment = augment_section()
    config.gnn = gnn_section()
    config.optimizer = optimizer_section()
    add_run_keys(config)
    config.tracker = tracker_section()
    return config.lock()


def data_section() -> ml_collections.ConfigDict:
    """Where the examples come from and how they are read (every mode)."""
    data = ml_collections.ConfigDict()
    # "synthetic": a synthetic world generated into `root` (or WORKDIR/synthetic_world) if
    # absent; "folder": a PoseTrack-layout folder (annotations/, images/); "tfds": a prepared
    # (or preparable) TFDS dataset, `root` its data_dir.
    data.source = "tfds"
    data.root = ""
    # TFDS dataset for source "tfds": posetrack18, posetrack17, posetrack21 or synthetic, and
    # its builder config ("" = the builder's first).
    data.tfds_name = "posetrack18"
    data.tfds_config = ""
    # The PoseTrack release folder for preparing the TFDS dataset ("" = <root>/downloads/manual).
    data.manual_dir = ""
    data.train_split = "train"
    data.val_split = "val"
    # People (HRNet mode) and GT poses (GNN mode) need at least this many annotated joints.
    data.min_joints = 1
    # Validate on at most this many examples, spread over the split (0 = all).
    data.max_val_examples = 0
    # grain worker processes, and threads/buffer computing examples in this process.
    data.num_workers = 0
    data.read_threads = 0
    data.read_buffer_size = 0
    # The synthetic world (source "synthetic"): seed, videos per split (tune: for choosing
    # tracker settings, written only when > 0), frames per video, frame size (H, W), val and
    # tune labelled every n-th frame.
    data.synthetic_seed = 0
    data.synthetic_train_videos = 20
    data.synthetic_val_videos = 4
    data.synthetic_tune_videos = 0
    data.synthetic_frames = 50
    data.synthetic_image_hw = (288, 384)
    data.synthetic_val_label_every = 1
    return data


def hrnet_section() -> ml_collections.ConfigDict:
    """The HRNet trained in HRNet mode, or the frozen one GNN mode reads."""
    hrnet = ml_collections.ConfigDict()
    # Architecture (models.hrnet.HRNetConfig): HRNet-W48 at full depth.
    hrnet.width = 48
    hrnet.stem_channels = 64
    hrnet.layer1_blocks = 4
    hrnet.layer1_planes = 64
    hrnet.stage_modules = (1, 4, 3)
    hrnet.stage_blocks = (4, 4, 4)
    # Network input (H, W); heatmaps and features are 1/4 of it. Multiples of 32.
    hrnet.input_hw = (384, 288)
    # Heatmap Gaussian sigma in cells; 0 = 3 at 96 x 72, scaled with the heatmap width.
    hrnet.heatmap_sigma = 0.0
    # Train on visible joints only (official: targets weighted by the visibility flag);
    # validation counts every annotated joint, as the PoseTrack evaluation does.
    hrnet.visible_targets_only = True
    # HRNet mode: converted weights to start from (`python -m convert_weights`); "" = random.
    hrnet.init_checkpoint = ""
    # GNN mode: the frozen HRNet (an HRNet-mode run's WORKDIR/hrnet, or converted weights).
    hrnet.checkpoint = ""
    return hrnet


def detector_section() -> ml_collections.ConfigDict:
    """Detector mode: YOLOX trained on the person boxes of the labeled frames
    (docs/training.md)."""
    detector = ml_collections.ConfigDict()
    # An official variant (nano, tiny, s, m, l, x), which brings its own depth and width
    # multipliers and conv flavour, or "custom", which reads the three keys below. They stay
    # unset (None) under an official variant: setting one there is an error.
    detector.variant = "s"
    detector.depth = ml_collections.FieldReference(None, field_type=float)
    detector.width = ml_collections.FieldReference(None, field_type=float)
    detector.depthwise = ml_collections.FieldReference(None, field_type=bool)
    # Classes of the head; the person is class 0 (80 for COCO weights, 1 from scratch).
    detector.num_classes = 1
    # Weights to start from: a converted YOLOX folder or an official .pth; "" = random init.
    detector.checkpoint = ""
    # Network input (H, W), multiples of 32; frames are letterboxed into it (pad 114).
    detector.input_hw = (640, 640)
    # GT box slots per image; people with fewer visible joints are not targets.
    detector.max_boxes = 32
    detector.min_visible_joints = 1
    # Official HSV jitter; letterbox scale times U(1 - s, 1 + s) [ours]; flips: augment.flip_prob.
    detector.hsv = True
    detector.scale_jitter = 0.0
    # The L1 loss on raw box outputs in the last epochs (official: the last 15 of 300).
    detector.l1_last_epochs = 1.0
    # Validation detections (COCO evaluation's thresholds) for box AP.
    detector.eval_conf = 0.001
    detector.eval_nms = 0.65
    detector.eval_max_boxes = 100
    return detector


def augment_section() -> ml_collections.ConfigDict:
    """Augmentation, every mode (official HRNet draws; GNN mode applies one draw per window;
    detector mode reads `flip_prob` only)."""
    augment = ml_collections.ConfigDict()
    augment.scale_factor = 0.35
    augment.rotation_factor = 45.0
    augment.rotation_prob = 0.6
    augment.flip_prob = 0.5
    augment.half_body_prob = 0.3  # HRNet mode only
    return augment


def gnn_section() -> ml_collections.ConfigDict:
    """GNN mode: the graph, the network, its loss and its training history."""
    gnn = ml_collections.ConfigDict()
    # n, history frames per graph.
    gnn.history = 3
    # A candidate every s feature cells: 48 x 36 candidates at 384 x 288.
    gnn.candidate_stride = 2
    # D, L, H.
    gnn.hidden = 128
    gnn.layers = 4
    gnn.heads = 4
    # Separate attention per edge type (spatial / temporal).
    gnn.typed_edges = True
    # False drops every temporal edge: the candidates never hear of the history (an ablation).
    gnn.temporal_edges = True
    # The softplus(w) * |p_i - p_j|^2 attention term [ours]; False is the paper's plain layer.
    gnn.relative_position_bias = True
    # Each head's attention-weighted sender offset sum_j alpha_ij (p_j - p_i) joins its message
    # [ours]; False is the paper's plain message.
    gnn.relative_offsets = True
    gnn.distance_weight_init = (1.0, 1000.0)
    # Node cues: sampled HRNet features, (dx, dy, score), joint-type embedding.
    gnn.use_visual = True
    gnn.use_position = True
    gnn.use_type = True
    # "dense" or "segment" attention (same outputs; dense is faster).
    gnn.attention_impl = "dense"
    # Candidate loss: "weighted_ce" (classes balanced per graph) or "focal" [ours].
    gnn.loss = "weighted_ce"
    gnn.focal_gamma = 2.0
    # tau_joint: history joints scoring below it get no node [ours].
    gnn.joint_threshold = 0.2
    # Candidate targets: Gaussian sigma (candidate cells) and foreground threshold [ours].
    gnn.target_sigma = 2.0
    gnn.target_threshold = 0.5
    # Decoding: 0 = argmax + 0.25 cell (docs/spec/method.md §3); r > 0 = the probability-weighted
    # centroid of the (2r + 1)^2 cells around the argmax [ours].
    gnn.decode_radius = 0
    # The current crop: last pose box x 1.25 x this [ours].
    gnn.track_enlarge = 1.2
    # History poses: "gt" (GT poses made estimate-like, below) or "hrnet" (the frozen HRNet's
    # estimates of each person, computed once and cached in WORKDIR/history_estimates) [ours].
    gnn.history_source = "gt"
    # History poses from GT, made estimate-like: jitter (x box side), dropout, scores [ours].
    gnn.history_jitter = 0.03
    gnn.history_dropout = 0.1
    gnn.history_score_range = (0.5, 1.0)
    # Where the GNN's crops come from [ours]: "poses" (a crop of its own around each history
    # pose and around the last pose for the current frame, docs/spec/method.md §2) or
    # "detections" (the detection crops HRNet already ran on; the tracker cuts an extra crop
    # only for a track no detection covers). Windows cut the person's GT box jittered as a
    # detection: centre sd (x side) and log-scale sd; a fraction uncovered_prob of the
    # training windows take the track crop as their current crop, as an uncovered track does.
    gnn.feature_source = "poses"
    gnn.detection_jitter = (0.05, 0.08)
    gnn.uncovered_prob = 0.2
    return gnn


def optimizer_section() -> ml_collections.ConfigDict:
    """The optimiser and its learning-rate schedule (every mode)."""
    optimizer = ml_collections.ConfigDict()
    # "adam" or "sgd"; the rate is multiplied by decay_factor at each of decay_epochs.
    optimizer.name = "adam"
    optimizer.learning_rate = 1e-4
    optimizer.decay_epochs = (5.0, 8.0)
    optimizer.decay_factor = 0.1
    # Linear warm-up over this many steps (0 = none); global-norm clipping (0 = none).
    optimizer.warmup_steps = 0
    optimizer.grad_clip_norm = 0.0
    # SGD momentum (0 = plain SGD).
    optimizer.momentum = 0.9
    return optimizer


def add_run_keys(config: ml_collections.ConfigDict) -> None:
    """The top-level keys of the run (every mode): batch, length, periodic actions."""
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


def tracker_section() -> ml_collections.ConfigDict:
    """The online tracker (evaluate.py tracker mode, python -m gnnpose_jax.track), read at
    inference only, so changing it never invalidates a training checkpoint.

    Every field of `tracking.tracker.TrackerConfig` (documented there) at its default
    (docs/spec/method.md §1), except n and tau_joint, which the tracker takes from the GNN
    export (gnn.history, gnn.joint_threshold; `tracking.tracker.FROM_GNN`).
    """
    return ml_collections.ConfigDict(config_section_defaults())
