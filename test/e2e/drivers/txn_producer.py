"""A librdkafka (confluent_kafka) transactional producer for test/e2e/transactions.test.ts.

    txn_producer.py BOOTSTRAP TOPIC TRANSACTIONAL_ID

Runs one committed transaction (values py-c-0..2) and one aborted one (py-a-0..2) on partition 0,
then a second producer with the same transactional id fences the first (whose commit then fails).
Prints one JSON line per step; exits 0 when the steps ran.
"""
import json
import sys

from confluent_kafka import KafkaException, Producer

bootstrap, topic, txn_id = sys.argv[1], sys.argv[2], sys.argv[3]


def emit(**kw):
    print(json.dumps(kw), flush=True)


def producer():
    return Producer({'bootstrap.servers': bootstrap, 'transactional.id': txn_id, 'transaction.timeout.ms': 60000, 'message.timeout.ms': 30000})


p = producer()
p.init_transactions(30)
for name, commit in (('py-c', True), ('py-a', False)):
    p.begin_transaction()
    for i in range(3):
        p.produce(topic, value=f'{name}-{i}'.encode(), partition=0)
    p.flush(30)
    if commit:
        p.commit_transaction(30)
    else:
        p.abort_transaction(30)
    emit(event='ended', name=name, commit=commit)

p.begin_transaction()
p.produce(topic, value=b'py-zombie', partition=0)
p.flush(30)
p2 = producer()
p2.init_transactions(30)
emit(event='initialized', producer=2)
try:
    p.commit_transaction(30)
    emit(event='not-fenced')
except KafkaException as e:
    err = e.args[0]
    emit(event='fenced', code=err.name(), fatal=err.fatal())
p2.begin_transaction()
p2.produce(topic, value=b'py-current', partition=0)
p2.commit_transaction(30)
emit(event='committed', producer=2)
