"""Names for the ops OpenVINO makes up, the same on every read of the same file.

OpenVINO names an op after the model's node (or, for an ONNX node without a name, after its first
output tensor, which ONNX keeps unique). The helper ops its readers add when they decompose one node
into several (a Softmax of opset < 13 becomes Reshape → Softmax → Reshape) get no name from the file:
their name is `<Type>_<n>`, n a counter of the whole process, so counting one file twice gave
`Reshape_562` and then `Reshape_1132`, and every result, comparison and profile join of that file
saw a different name each time.

Such an op is named here after the op it feeds — the node it was made from — as
`<that op's name>/<Type>` (`softmaxout_1/Reshape`), the way OpenVINO itself names a convolution's
bias-free part `conv/WithoutBiases`; `_2`, `_3` … tell apart ops of one type made from one node.
Counting and the OpenVINO engine both rename the model they read, so the names the engine reports
are the names the count gave."""
from __future__ import annotations

__all__ = ["settle_made_up_names"]


def settle_made_up_names(model) -> int:
    """Give every op of `model` whose name OpenVINO made up (its friendly name is its unique,
    counter-numbered name) a name that depends on the graph only; returns how many were renamed."""
    ops = model.get_ordered_ops()  # held: the binding hands back the same object for a node meanwhile
    position = {node: index for index, node in enumerate(ops)}
    taken = [node.get_friendly_name() for node in ops]
    made_up: list[int] = []
    for index, friendly in enumerate(taken):
        # made up means `<Type>_<n>`, the unique name; asked only of names of that form. A Constant is
        # folded away and never counted or timed: its made-up name is never shown
        if friendly[-1:].isdigit() and "_" in friendly and friendly == ops[index].get_name() and ops[index].get_type_name() != "Constant":
            made_up.append(index)
    taken = set(taken)
    if not made_up:
        return 0
    anchor: dict[int, str] = {}  # a renamed op -> the name its own name was made from
    # consumers come after their producers in topological order: walked backwards, the op a
    # made-up op feeds already has its final name
    for index in reversed(made_up):
        node = ops[index]
        base = None
        consumers = sorted(position[target.get_node()] for output in node.outputs() for target in output.get_target_inputs())
        for consumer in consumers:
            if ops[consumer].get_type_name() != "Result":
                base = anchor.get(consumer) or ops[consumer].get_friendly_name()
                break
        if base is None:  # it feeds only model outputs: after its tensor, else after what it reads
            tensors = sorted(node.get_output_tensor(0).get_names()) if node.get_output_size() else []
            producers = [node.input_value(0).get_node()] if node.get_input_size() else []
            base = tensors[0] if tensors else (anchor.get(position[producers[0]]) or producers[0].get_friendly_name()) if producers else "model"
        kind = node.get_type_name()
        name = f"{base}/{kind}"
        number = 2
        while name in taken:
            name = f"{base}/{kind}_{number}"
            number += 1
        taken.add(name)
        anchor[index] = base
        node.set_friendly_name(name)
    return len(made_up)
