"""SystemDS builtins that kerasdml does not provide, so that a call to one fails saying so (rather
than "unknown function"): the frame builtins, a few native ones, and the builtin functions SystemDS
writes in DML itself (its scripts/builtin folder, which kerasdml does not ship)."""
from __future__ import annotations

FRAME_BUILTINS = frozenset({
    "as.frame", "transformencode", "transformapply", "transformdecode", "transformcolmap",
    "transformmeta", "detectSchema", "applySchema", "dropInvalidType", "dropInvalidLength",
    "valueSwap", "map", "tokenize", "colnames",
})

NATIVE_BUILTINS = frozenset({
    "fft", "ifft", "fft_linearized", "ifft_linearized", "stft", "lstm", "lstm_backward",
    "batch_norm2d", "batch_norm2d_backward", "lineage", "countDistinctApprox", "typeof",
    "rowClassMeet", "einsum",
})

SCRIPT_BUILTINS = frozenset((
    'WoE WoEApply abstain adasyn als alsCG alsDS alsPredict alsTopkPredict ampute apply_pipeline '
    'arima autoencoder_2layer bandit bivar components cooccurrenceMatrix correctTypos '
    'correctTyposApply cox cspline csplineCG csplineDS cvlm dbscan dbscanApply decisionTree '
    'decisionTreePredict dedup deepWalk denialConstraints differenceStatistics discoverFD dmv ema '
    'executePipeline fdr ffPredict ffTrain fit_pipeline fixInvalidLengths fixInvalidLengthsApply '
    'flattenQuantile frameSort frequencyEncode frequencyEncodeApply garch gaussianClassifier glm '
    'glmPredict glove gmm gmmPredict gnmf gridSearch hospitalResidencyMatch hyperband img_crop '
    'img_crop_linearized img_cutout img_cutout_linearized img_posterize img_posterize_linearized '
    'img_rotate img_rotate_linearized img_sample_pairing img_sample_pairing_linearized img_shear '
    'img_shear_linearized img_transform img_transform_linearized img_translate '
    'img_translate_linearized impurityMeasures imputeByFD imputeByFDApply imputeByKNN '
    'incSliceLine independentSubnetTrain intersect km kmeans kmeansPredict knn knnGraph knnbf '
    'lasso lenetPredict lenetTrain lmPredictStats matrixProfile mcc mdedup mice miceApply msmape '
    'multiLogReg multiLogRegPredict na_locf nrmse outlierByArima pageRank pca pcaInverse '
    'pcaTransform pnmf ppca psnr quantizeByCluster raGroupby raJoin raSelection randomForest '
    'randomForestPredict scaleRobust scaleRobustApply selectByVarThresh ses shapExplainer '
    'sherlock sherlockPredict shortestPath skewness sliceLine sliceLineDebug sliceLineExtract '
    'slicefinder smape smote split splitBalanced sqrtMatrix stableMarriage statsNA steplm '
    'stratstats symmetricDifference tSNE tomeklink topk_cleaning underSampling univar vectorToCsv '
    'wer xgboost xgboostPredictClassification xgboostPredictRegression'
).split())


def unsupported_reason(name: str) -> str | None:
    """Why the SystemDS builtin `name` cannot run here, or None if SystemDS has no such builtin."""
    if name in FRAME_BUILTINS:
        return f"`{name}` works on frames, which kerasdml does not support"
    if name in NATIVE_BUILTINS:
        return f"the SystemDS builtin `{name}` is not supported by kerasdml"
    if name in SCRIPT_BUILTINS:
        return (f"`{name}` is one of SystemDS' builtin functions written in DML "
                f"(scripts/builtin/{name}.dml), which kerasdml does not provide; define or source "
                f"a function of that name")
    return None
